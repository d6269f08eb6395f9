"""sre-platform: the HTTP service the delivery platform builds, deploys and verifies."""
