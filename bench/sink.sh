# Sourced by the send benchmarks: builds catchup, sets `catchup`, the link
# secret and `port`, and starts Postfix's smtp-sink on that loopback port
# (stopped when the script exits). Needs: postfix (smtp-sink), python3.
cargo build --release --quiet
catchup=$root/target/release/catchup
export CATCHUP_SECRET=bench-secret-0123456789abcdef0123456789abcdef
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "127.0.0.1:$port" 1024 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.3
