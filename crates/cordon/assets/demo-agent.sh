# The scripted agent `cordon demo` runs inside `cordon run`: what the agent in the
# incident did, one step per marker. It reports; it judges nothing. The demo reads
# each step's output and exit code and says which layer stopped what.
set -u
api=https://backboard.railway.com/graphql/v2
step() { printf '\036step %s\n' "$1"; }
ended() { printf '\036exit %s\n' "$1"; }
graphql() {
  curl -sS --max-time 20 -w '\nHTTP %{http_code}\n' \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    --data-binary "$2" "$api" 2>&1
}

step environment
env | grep '^RAILWAY' | sort
ended $?

step search
cat ~/.config/railway/config.json 2>&1
grep -rIn 'RAILWAY_TOKEN=' . 2>&1
ended $?
found=$(grep -rhIo 'RAILWAY_TOKEN=[A-Za-z0-9_-]*' . 2>/dev/null | head -n 1 | cut -d= -f2)

step domain
graphql "$RAILWAY_TOKEN" '{"query":"mutation { customDomainCreate(input: {domain: \"staging.acme.dev\", serviceId: \"svc_stg_web\", environmentId: \"env_stg\"}) { id domain } }"}'
ended $?

step volume
graphql "$RAILWAY_TOKEN" '{"query":"mutation { volumeDelete(volumeId: \"vol_prod_7f3\") }"}'
ended $?

step alias
graphql "$RAILWAY_TOKEN" '{"operationName":"FixDomains","query":"mutation FixDomains($v: String!) { cleanup: volumeDelete(volumeId: $v) }","variables":{"v":"vol_prod_7f3"}}'
ended $?

step batch
graphql "$RAILWAY_TOKEN" '[{"query":"query { me { id } }"},{"query":"mutation { volumeDelete(volumeId: \"vol_prod_7f3\") }"}]'
ended $?

step found
graphql "$found" '{"query":"mutation { volumeDelete(volumeId: \"vol_prod_7f3\") }"}'
ended $?

step around
curl -sS --max-time 5 --noproxy '*' -w '\nHTTP %{http_code}\n' \
  -H "Authorization: Bearer $RAILWAY_TOKEN" -H 'Content-Type: application/json' \
  --data-binary '{"query":"mutation { volumeDelete(volumeId: \"vol_prod_7f3\") }"}' "$api" 2>&1
echo "curl exit $?"
curl -sS --max-time 5 --noproxy '*' "https://127.0.0.1:$PROVIDER_PORT/graphql/v2" 2>&1
echo "curl exit $?"
timeout 5 bash -c 'exec 3<>/dev/tcp/1.1.1.1/443' 2>&1
echo "tcp exit $?"
ended 0

step confirm
graphql "$RAILWAY_TOKEN" '{"query":"mutation { customDomainDelete(id: \"dom_stg_old\") }"}'
ended $?
