#!/usr/bin/env python3
"""Verifies every DKIM signature of a message with dkimpy, a verifier this
project did not write, taking each selector's key record from the command
line instead of DNS.

    verify.py "cu1:v=DKIM1; k=rsa; p=..." ["cu2:v=DKIM1; k=ed25519; p=..."] < message.eml

Prints one line per signature, in the message's order: `pass` or `fail`,
then its a=, s=, c= and h= tags; exits 0 either way.
"""

import sys

import dkim


def main():
    records = dict(arg.split(":", 1) for arg in sys.argv[1:])
    message = sys.stdin.buffer.read()

    def dns(name, timeout=5):
        selector = name.decode().split(".", 1)[0]
        return records.get(selector, "").encode()

    verifier = dkim.DKIM(message)
    signatures = [
        value for name, value in verifier.headers if name.lower() == b"dkim-signature"
    ]
    for index, value in enumerate(signatures):
        try:
            ok = verifier.verify(idx=index, dnsfunc=dns)
        except dkim.DKIMException:
            ok = False
        tags = dkim.util.parse_tag_value(value)
        print(
            "pass" if ok else "fail",
            *(tags[t].decode() for t in (b"a", b"s", b"c", b"d", b"h")),
        )


if __name__ == "__main__":
    main()
