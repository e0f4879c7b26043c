FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --system --uid 10001 billing
USER billing
ENV HOST=0.0.0.0
EXPOSE 8000
ENTRYPOINT ["billing-ledger"]
CMD ["up"]
