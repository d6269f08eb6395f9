FROM python:3.12-slim AS build
FROM gcr.io/distroless/python3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
