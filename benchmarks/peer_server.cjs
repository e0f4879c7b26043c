// The peer of the ingest benchmark: @supabase/stripe-sync-engine served as its README shows
// (`new StripeSync({poolConfig, stripeSecretKey, stripeWebhookSecret})`, then
// `await sync.processWebhook(payload, signature)` per webhook), behind node:http on PORT.
// Its options that fetch from Stripe's API stay off (the defaults: no
// revalidateObjectsViaStripeApi, backfillRelatedEntities and autoExpandLists false); the API
// key is a dummy. 200 {"received": true} once processWebhook resolved, else 400 for a refused
// signature and 500 for anything else (an unhandled type, a failed upsert), as a server built
// from its README would answer. Started by benchmarks/peer.py with NODE_PATH at the install.
"use strict";
const http = require("node:http");
const { StripeSync, runMigrations } = require("@supabase/stripe-sync-engine");

const databaseUrl = process.env.DATABASE_URL;
const port = Number(process.env.PORT);
const secret = process.env.STRIPE_WEBHOOK_SECRET;

async function main() {
  await runMigrations({ databaseUrl, schema: "stripe" });
  const sync = new StripeSync({
    poolConfig: { connectionString: databaseUrl, max: 10 },
    stripeSecretKey: "sk_test_dummy_benchmark_key",
    stripeWebhookSecret: secret,
  });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      let status = 200;
      let answer = { received: true };
      try {
        await sync.processWebhook(Buffer.concat(chunks), req.headers["stripe-signature"]);
      } catch (err) {
        const signature = err && err.type === "StripeSignatureVerificationError";
        status = signature ? 400 : 500;
        answer = { error: signature ? "signature" : String((err && err.message) || err) };
      }
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(port, "127.0.0.1", () => console.log(`peer listening on ${port}`));
  const stop = () => server.close(() => sync.postgresClient.pool.end().then(() => process.exit(0)));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
