"""Neural-representation compression: pruning, quantisation and the entropy-coded ``.vpr`` file."""
