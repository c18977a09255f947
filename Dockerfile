FROM python:3.11-slim
WORKDIR /srv/mailserver
COPY pyproject.toml README.md ./
COPY mailserver ./mailserver
COPY scripts/build_native.py ./scripts/
COPY config ./config
# The MIME parse modules compiled with mypyc (scripts/build_native.py, about
# 10 s) before the install copies them along (package data); gcc and mypy are
# needed for the build only and removed again. If the build fails the image
# still works, with the pure-Python modules.
RUN set -e; \
    apt-get update; \
    apt-get install -y --no-install-recommends gcc libc6-dev; \
    pip install --no-cache-dir "mypy>=1.10" "setuptools>=61"; \
    python scripts/build_native.py; \
    pip install --no-cache-dir .; \
    pip uninstall -y mypy; \
    apt-get purge -y --auto-remove gcc libc6-dev; \
    rm -rf /var/lib/apt/lists/* build scripts
# Mail, accounts and the self-signed certificate live in config/data (data_dir
# of config/lab.yaml); mount a volume there to keep them across containers.
VOLUME ["/srv/mailserver/config/data"]
EXPOSE 25 110 143 80 443
# Ports below 1024: the container's root binds them. Accounts group1_1..group12_6
# are created on every start (existing ones, and their changed passwords, are kept).
CMD ["sh", "-c", "mailserver -c config/lab.yaml lab provision && exec mailserver -c config/lab.yaml serve"]
