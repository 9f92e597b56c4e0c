#!/usr/bin/env python3
"""Writes the wrk target file for the seeded data set: one line per agency,
    <agency_id> <admin_token> <owner_token> <property_id> ... (all properties) ; owner_property_id ...
Tokens are HS256 JWTs in the shape the API issues (sub, iat, exp, aud=authenticated), signed with
JWT_SECRET. Ids follow bench/seed.sql: md5('agency-' || i) etc., read as a UUID.

usage: targets.py AGENCIES PROPERTIES OUT_FILE [FIRST]   (JWT_SECRET from the environment)
Agencies FIRST..AGENCIES (FIRST defaults to 1; agency 0 is the large agency availability searches).
Also writes OUT_FILE's stem + "-feeds.txt": the export feed paths of the seeded channel connections.
"""
import base64, hashlib, hmac, json, os, sys, time, uuid


def md5_uuid(text):
    return str(uuid.UUID(hashlib.md5(text.encode()).hexdigest()))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(secret, subject, now):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps({"sub": subject, "iat": now, "exp": now + 6 * 3600, "aud": "authenticated",
                              "role": "authenticated"}, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


def main():
    agencies, props, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    secret = os.environ["JWT_SECRET"].encode()
    now = int(time.time())
    with open(out, "w") as f:
        for i in range(first, agencies + 1):
            admin = token(secret, md5_uuid(f"user-admin-{i}"), now)
            owner = token(secret, md5_uuid(f"user-owner-{i}"), now)
            all_props = [md5_uuid(f"property-{i}-{j}") for j in range(1, props + 1)]
            owned = [md5_uuid(f"property-{i}-{j}") for j in range(1, props + 1) if j % 4 == 1]
            f.write(" ".join([md5_uuid(f"agency-{i}"), admin, owner, *all_props, ";", *owned]) + "\n")
    # The export feeds of the seeded channel connections (j % 4 = 2), one URL path per line.
    with open(out.removesuffix(".txt") + "-feeds.txt", "w") as f:
        for i in range(first, agencies + 1):
            agency = md5_uuid(f"agency-{i}").replace("-", "")
            for j in range(2, props + 1, 4):
                secret = hashlib.md5(f"feed-{i}-{j}".encode()).hexdigest() + hashlib.md5(f"feed2-{i}-{j}".encode()).hexdigest()
                f.write(f"/ical/{agency}{secret}.ics\n")


if __name__ == "__main__":
    main()
