#!/usr/bin/env python3
"""Verifies a message's DKIM signature with dkimpy, a verifier this project
did not write, taking the public key record from the command line instead
of DNS.

    verify.py "v=DKIM1; k=rsa; p=..." < message.eml

Prints `pass` or `fail`, then the signed header list (h=) and the
canonicalisation (c=) of the signature, one per line; exits 0 either way.
"""

import sys

import dkim


def main():
    record = sys.argv[1].encode()
    message = sys.stdin.buffer.read()

    def dns(name, timeout=5):
        return record

    ok = dkim.verify(message, dnsfunc=dns)
    print("pass" if ok else "fail")
    signature = dkim.DKIM(message)
    for name, value in signature.headers:
        if name.lower() == b"dkim-signature":
            tags = dkim.util.parse_tag_value(value)
            print(tags[b"h"].decode())
            print(tags[b"c"].decode())
            print(tags[b"a"].decode())
            print(tags[b"d"].decode())


if __name__ == "__main__":
    main()
