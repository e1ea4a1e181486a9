#!/usr/bin/perl
# Verifies every DKIM signature of a message with Perl's Mail::DKIM, a
# second verifier this project did not write, taking each selector's key
# record from the command line instead of DNS.
#
#     verify.pl "cu1:v=DKIM1; k=rsa; p=..." ["cu2:v=DKIM1; k=ed25519; p=..."] < message.eml
#
# Prints one line per signature, in the message's order: its result
# (pass, fail, invalid, none), its a= and s=; exits 0 either way.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;

my %records = map { split /:/, $_, 2 } @ARGV;

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($name, $type) = @_;
        my ($selector) = $name =~ /^([^.]+)\._domainkey\./ or return;
        my $record = $records{$selector} // return;
        my @strings = unpack '(A255)*', $record;
        return Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [@strings]);
    };
}

binmode STDIN;
my $verifier = Mail::DKIM::Verifier->new();
while (my $line = <STDIN>) {
    $line =~ s/\r?\n\z/\r\n/;
    $verifier->PRINT($line);
}
$verifier->CLOSE;
for my $signature ($verifier->signatures) {
    printf "%s %s %s\n", $signature->result, $signature->algorithm, $signature->selector;
}
