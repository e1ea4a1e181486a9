#!/usr/bin/env python3
"""A recording SMTP server for catchup's tests, built on aiosmtpd.

aiosmtpd (https://aiosmtpd.readthedocs.io) implements SMTP; this file only
supplies the handler: it records every accepted message and injects the
faults a test asks for. It listens on 127.0.0.1 only.

On start it prints `READY <port>` on stdout. Every accepted message is saved
as OUT/<n>.eml, with a line in OUT/deliveries.jsonl:
    {"n": 1, "rcpt": "...", "mail_from": "...", "bytes": 1234}

Faults (PATTERN is a shell-style pattern matched against the recipient):
  --rcpt-451 PATTERN[:N]   answer RCPT with 451 (the first N times; default always)
  --rcpt-550 PATTERN       answer RCPT with 550
  --data-550 PATTERN       answer the end of DATA with 554
  --data-hang PATTERN:SECS record the message, then wait SECS before replying
                           (the ambiguous moment: accepted, but no reply yet)
  --delay SECS             wait SECS before every end-of-DATA reply
  --vanish-after N         after N accepted messages, the whole server exits
                           (without replying to the next command)
  --evil-reply PATTERN     answer RCPT with a 550 whose text holds terminal
                           escape sequences and a carriage return
  --smtputf8               offer SMTPUTF8 (RFC 6531)
  --take-whole-messages    like Postfix, keep a message whose final dot
                           arrived even if the client vanishes before the
                           reply (aiosmtpd on its own drops it when the
                           client's FIN comes in the same read as the dot)

Security:
  --tls-cert FILE --tls-key FILE   the server's certificate chain and key
  --starttls                       offer STARTTLS (and require it before AUTH)
  --implicit-tls                   TLS from the first byte
  --auth USER:PASSWORD             accept AUTH PLAIN/LOGIN with these only
  --auth-without-tls               allow AUTH before TLS (catchup allows it
                                   on loopback only)

Each delivery also records "tls" (was the session encrypted) and "login".
"""

import argparse
import asyncio
import fnmatch
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class _NoCancel:
    def cancel(self):
        pass


class WholeMessageSMTP(SMTP):
    """Finishes the command in hand when the client goes away, instead of
    cancelling it at once: a message whose dot arrived is recorded."""

    def eof_received(self):
        # Let the reader see the buffered bytes, then EOF; do not cancel.
        return asyncio.StreamReaderProtocol.eof_received(self)

    def connection_lost(self, error):
        task = self._handler_coroutine
        self._handler_coroutine = _NoCancel()
        super().connection_lost(error)
        if task is not None:
            asyncio.get_running_loop().call_later(2.0, task.cancel)


def pattern_count(spec):
    pattern, _, count = spec.partition(":")
    return pattern, (int(count) if count else None)


class Recorder:
    def __init__(self, args):
        self.out = args.out
        self.count = 0
        self.rcpt_451 = [list(pattern_count(s)) for s in args.rcpt_451]
        self.rcpt_550 = args.rcpt_550
        self.data_550 = args.data_550
        self.data_hang = [(p, float(s)) for p, s in (h.split(":") for h in args.data_hang)]
        self.delay = args.delay
        self.vanish_after = args.vanish_after
        self.evil_reply = args.evil_reply
        os.makedirs(self.out, exist_ok=True)
        self.log = open(os.path.join(self.out, "deliveries.jsonl"), "a", buffering=1)

    def _vanish_if_due(self):
        if self.vanish_after is not None and self.count >= self.vanish_after:
            self.log.flush()
            os._exit(0)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self._vanish_if_due()
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for rule in self.rcpt_451:
            pattern, remaining = rule
            if fnmatch.fnmatch(address, pattern) and (remaining is None or remaining > 0):
                if remaining is not None:
                    rule[1] = remaining - 1
                return "451 4.7.1 Try again later"
        if any(fnmatch.fnmatch(address, p) for p in self.rcpt_550):
            return "550 5.1.1 No such user here"
        if any(fnmatch.fnmatch(address, p) for p in self.evil_reply):
            return "550 \x1b[2J\x1b[31mgotcha\rfake line"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        if any(fnmatch.fnmatch(rcpt, p) for p in self.data_550):
            return "554 5.6.0 Message rejected"
        self.count += 1
        path = os.path.join(self.out, f"{self.count}.eml")
        with open(path, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        self.log.write(json.dumps({
            "n": self.count,
            "rcpt": rcpt,
            "rcpts": envelope.rcpt_tos,
            "mail_from": envelope.mail_from,
            "bytes": len(envelope.original_content or envelope.content),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
        }) + "\n")
        for pattern, seconds in self.data_hang:
            if fnmatch.fnmatch(rcpt, pattern):
                await asyncio.sleep(seconds)
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 2.0.0 Ok: queued as %d" % self.count


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rcpt-451", action="append", default=[])
    parser.add_argument("--rcpt-550", action="append", default=[])
    parser.add_argument("--data-550", action="append", default=[])
    parser.add_argument("--data-hang", action="append", default=[])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--vanish-after", type=int, default=None)
    parser.add_argument("--evil-reply", action="append", default=[])
    parser.add_argument("--smtputf8", action="store_true")
    parser.add_argument("--take-whole-messages", action="store_true")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--auth-without-tls", action="store_true")
    args = parser.parse_args()

    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        user, _, password = args.auth.partition(":")
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        # handled=False: let aiosmtpd answer 535 itself on a failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def factory():
        options = {}
        if args.starttls:
            options["tls_context"] = context
        if args.auth:
            options["authenticator"] = authenticator
            # aiosmtpd only knows about TLS it started itself (STARTTLS).
            options["auth_require_tls"] = not (args.implicit_tls or args.auth_without_tls)
        kind = WholeMessageSMTP if args.take_whole_messages else SMTP
        return kind(handler, hostname="smtp.test", decode_data=False,
                    enable_SMTPUTF8=args.smtputf8, **options)

    handler = Recorder(args)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory,
        host="127.0.0.1",
        port=args.port,
        ssl=context if args.implicit_tls else None,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
