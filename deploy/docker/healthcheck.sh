#!/bin/bash
# HEALTHCHECK without curl: GET /v2/health/live (or /v2/health/ready with the argument "ready")
# on 127.0.0.1:${PTSERVE_HTTP_PORT:-8000} through bash's /dev/tcp. Exit 0 on HTTP 200, else 1.
path=/v2/health/${1:-live}
exec 3<>"/dev/tcp/127.0.0.1/${PTSERVE_HTTP_PORT:-8000}" 2>/dev/null || exit 1
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 2 status <&3 || exit 1
[[ "$status" == "HTTP/1."[01]" 200"* ]] || exit 1
