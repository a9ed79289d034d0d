"""Start the render queue every night with the operating system's own scheduler (launchd, systemd)."""
