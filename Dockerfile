FROM python:3.11-slim
WORKDIR /srv/mailserver
COPY pyproject.toml README.md ./
COPY mailserver ./mailserver
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system --home /srv/mailserver mail-daemon \
    && mkdir -p /srv/mailserver/config/data && chown -R mail-daemon /srv/mailserver/config
# Mail and accounts live in config/data; mount a volume there to keep them.
VOLUME ["/srv/mailserver/config/data"]
EXPOSE 25 110 143
# Binding ports below 1024 needs root inside the container (or CAP_NET_BIND_SERVICE).
CMD ["sh", "-c", "mailserver -c config/lab.yaml lab provision && exec mailserver -c config/lab.yaml serve"]
