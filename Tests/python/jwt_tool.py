"""Mints test tokens with PyJWT (and `cryptography`), an implementation independent of the server's jwt-kit.

Reads one JSON request on stdin, writes one JSON answer on stdout:
  {"op": "keygen", "keys": [{"type": "EC"|"RSA", "kid": "…"}]}
      -> [{"kid", "private_pem", "public_pem", "jwk"}]       (jwk: the public key as a JWKS entry)
  {"op": "mint", "tokens": [{"alg", "key", "kid"?, "claims"}]}
      -> ["token", …]
     alg "ES256"/"RS256"/"HS256": signed by PyJWT with `key` (a PEM private key, or the HS256 secret);
     alg "none": PyJWT's unsigned token;
     alg "HS256-raw": an HS256 token whose HMAC secret is `key` taken as bytes (PyJWT refuses to use a
     public key as an HMAC secret, which is exactly the algorithm-confusion attack the server must refuse).
"""
import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keygen(spec):
    if spec["type"] == "EC":
        key, algorithm, alg = ec.generate_private_key(ec.SECP256R1()), ECAlgorithm, "ES256"
    else:
        key, algorithm, alg = rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm, "RS256"
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    jwk.update(kid=spec["kid"], use="sig")
    if spec.get("with_alg", True):
        jwk["alg"] = alg
    return {"kid": spec["kid"], "private_pem": private_pem, "public_pem": public_pem, "jwk": jwk}


def mint(spec):
    headers = {"kid": spec["kid"]} if spec.get("kid") is not None else None
    alg = spec["alg"]
    if alg == "none":
        return jwt.encode(spec["claims"], None, algorithm="none", headers=headers)
    if alg == "HS256-raw":
        header = {"alg": "HS256", "typ": "JWT"}
        if headers:
            header.update(headers)
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(spec["claims"]).encode())
        mac = hmac.new(spec["key"].encode(), signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64url(mac)
    return jwt.encode(spec["claims"], spec["key"], algorithm=alg, headers=headers)


def main():
    request = json.load(sys.stdin)
    if request["op"] == "keygen":
        answer = [keygen(spec) for spec in request["keys"]]
    elif request["op"] == "mint":
        answer = [mint(spec) for spec in request["tokens"]]
    else:
        raise SystemExit("unknown op " + request["op"])
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
