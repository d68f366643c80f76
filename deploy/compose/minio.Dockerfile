# MinIO's community edition is source-only: build the same version deploy/local builds.
FROM golang:1.24-alpine AS build
ARG MINIO_MODULE_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
RUN CGO_ENABLED=0 go install github.com/minio/minio@${MINIO_MODULE_VERSION}
FROM alpine:3.20
COPY --from=build /go/bin/minio /usr/local/bin/minio
ENTRYPOINT ["minio"]
