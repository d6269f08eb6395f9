FROM python:3.12-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ADD https://example.com/tool.tar.gz /opt/
