"""Build the demo clip shipped in the package (src/vidprior/data/demo.mp4).

Source: the first 30 frames of `bedroom` from ../shared/data/clips (256x144), from
facebookresearch/sam2 (Apache-2.0), stored as high-quality H.264 (crf 10).
The decoded frames are the demo's clean reference.

    python scripts/make_demo_clip.py [CLIPS_DIR]
"""

import sys
from pathlib import Path

from vidprior.video import VideoWriter, read_video

clips = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "../shared/data/clips")
video = read_video(clips / "bedroom" / "frames", count=30)
target = Path(__file__).parents[1] / "src/vidprior/data/demo.mp4"
with VideoWriter(target, fps=30.0, crf=10) as writer:
    writer.write_all(video.frames)
print(target, target.stat().st_size, "bytes")
