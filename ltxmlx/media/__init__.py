"""Media output: H.264 + AAC mp4 through the imageio-ffmpeg binary, read-back probes, contact sheets."""
