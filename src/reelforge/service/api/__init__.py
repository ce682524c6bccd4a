"""The app's typed API under /api/ (docs/APP.md): accounts, posts, feeds, notifications,
reports; used by the web UI."""
