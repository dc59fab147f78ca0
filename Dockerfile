# syntax=docker/dockerfile:1

# Build: a static binary, no cgo (SQLite is the pure-Go modernc driver).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/playgate ./cmd/playgate \
 && mkdir -p /out/data

# Run: only the binary, as the distroless non-root user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/playgate /usr/local/bin/playgate
COPY --from=build --chown=65532:65532 /out/data /data
ENV PLAYGATE_DATA=/data \
    PLAYGATE_ADDR=:8080
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/playgate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/playgate"]
CMD ["serve"]
