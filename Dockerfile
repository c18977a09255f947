FROM python:3.11-slim
WORKDIR /srv/mailserver
COPY pyproject.toml README.md ./
COPY mailserver ./mailserver
COPY config ./config
RUN pip install --no-cache-dir .
# Mail, accounts and the self-signed certificate live in config/data (data_dir
# of config/lab.yaml); mount a volume there to keep them across containers.
VOLUME ["/srv/mailserver/config/data"]
EXPOSE 25 110 143 80 443
# Ports below 1024: the container's root binds them. Accounts group1_1..group12_6
# are created on every start (existing ones, and their changed passwords, are kept).
CMD ["sh", "-c", "mailserver -c config/lab.yaml lab provision && exec mailserver -c config/lab.yaml serve"]
