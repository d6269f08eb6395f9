FROM python:3.12-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ENV PORT=8080 LOG_LEVEL=info
RUN --mount=type=secret,id=pip_token pip install .
