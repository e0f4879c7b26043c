FROM python:3.11-slim
WORKDIR /app
# The locked versions first (hash-checked; a layer that changes only with the lock file).
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 billing \
    && mkdir /data && chown billing /data
USER billing
# The embedded database (when no DATABASE_URL is set) lives on a volume the user can write.
ENV HOST=0.0.0.0 BILLING_LEDGER_HOME=/data
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["billing-ledger"]
CMD ["up"]
