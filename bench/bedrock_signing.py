"""Microseconds per SigV4 signature of a Converse request, as the Bedrock adapter signs it.

Run: PYTHONPATH=src python bench/bedrock_signing.py [--rounds N]
"""

from __future__ import annotations

import argparse
import time

import orjson

from keyplane.providers.aws_signing import sign

EXTRA = {
    "access_key": "AKIDEXAMPLE",
    "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
}
URL = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
BODY = orjson.dumps({"messages": [{"role": "user", "content": [{"text": "hello " * 200}]}]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5000)
    rounds = parser.parse_args().rounds
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    sign(EXTRA, "POST", URL, dict(headers), BODY)  # warm the signer cache
    started = time.perf_counter()
    for _ in range(rounds):
        sign(EXTRA, "POST", URL, dict(headers), BODY)
    elapsed = time.perf_counter() - started
    print(f"sigv4 sign: {elapsed / rounds * 1e6:.1f} us per request ({rounds} rounds, {len(BODY)} byte body)")


if __name__ == "__main__":
    main()
