# The crawlbench demo server, for the guide's `docker-compose up --build`: serves the default
# 1,000-page graph on port 5000. Build dependencies stay in the first stage.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc make libc6-dev zlib1g-dev \
    libcurl4-openssl-dev libcjson-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends zlib1g libcurl4 libcjson1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/release/crawlbench /usr/local/bin/crawlbench
EXPOSE 5000
# 0.0.0.0 inside the container: the port mapping is what exposes it.
ENTRYPOINT ["crawlbench", "serve", "--host", "0.0.0.0", "--port", "5000"]
