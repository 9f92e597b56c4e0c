"""Verifies recorded webhook requests with the reference Standard Webhooks library (PyPI `standardwebhooks`).

The Swift webhook tests call it (through the venv that scripts/py-env builds) with, on stdin, a JSON list:
    [{"secrets": ["whsec_…", …], "headers": {"webhook-id": …, "webhook-timestamp": …, "webhook-signature": …}, "body": "…"}]
Every request must verify with EVERY secret listed (a rotation's old and new secret both sign). Exit 0 and
"verified N" when all do; exit 1 naming the first that does not.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> int:
    requests = json.load(sys.stdin)
    if not isinstance(requests, list) or not requests:
        print("verify-webhooks: nothing to verify", file=sys.stderr)
        return 1
    checked = 0
    for i, r in enumerate(requests):
        if not r.get("secrets"):
            print(f"verify-webhooks: request {i} lists no secret", file=sys.stderr)
            return 1
        for secret in r["secrets"]:
            try:
                payload = Webhook(secret).verify(r["body"], r["headers"])
            except WebhookVerificationError as e:
                print(f"verify-webhooks: request {i} ({r['headers'].get('webhook-id')}) does not verify "
                      f"with secret #{r['secrets'].index(secret)}: {e}", file=sys.stderr)
                return 1
            if payload != json.loads(r["body"]):
                print(f"verify-webhooks: request {i}: the verified payload differs from the body", file=sys.stderr)
                return 1
            checked += 1
    print(f"verified {len(requests)} requests ({checked} signatures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
