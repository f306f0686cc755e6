"""Progress for programs: nested bars report the overall fraction and ETA."""

from vidprior.progress import Bar, read_status, report_to


def test_an_outer_bar_counts_the_inner_bars_share_of_its_expected_units(tmp_path):
    report_to(tmp_path / "status.json")
    try:
        with Bar(10, "frames", show=False) as outer:
            outer.update(4)
            outer.expect(5)  # the next 5 frames come from a fit with its own bar
            with Bar(1000, "fit", show=False) as inner:
                inner.set_done(600)
                assert outer.state()["fraction"] == (4 + 0.6 * 5) / 10
                assert outer.state()["eta"] is not None
            outer.update(5)
            assert outer.state()["fraction"] == 0.9  # the window's frames counted once, not twice
            bars = read_status(tmp_path / "status.json")["bars"]
            assert [b["label"] for b in bars] == ["frames"]
    finally:
        report_to(None)
    assert read_status(tmp_path / "status.json")["bars"] == []
