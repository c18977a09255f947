"""The outbound side: durable queue, routing, SMTP client, retries and DSN bounces."""
