#!/usr/bin/env bash
# The outsider path, as a vendor walks it with nothing but the SDK:
#   1. build and `cmake --install` the SDK (sdk/ as a project of its own) to a temp prefix;
#   2. copy the installed template, build it in a separate folder with only
#      -DCMAKE_PREFIX_PATH=<prefix> (and check no path of the hub's source tree is
#      on any compile line), run its unit tests;
#   3. run the installed conformance program on the built plugin;
#   4. start hubd with a plugins folder holding that plugin and call it over real HTTP.
# Needs HUB_SOURCE_DIR, HUB_BUILD_DIR (set by ctest); HUBD defaults to $HUB_BUILD_DIR/core/app/hubd,
# HUBCTL (mints the bearer token every API call needs) to $HUB_BUILD_DIR/core/hubctl/hubctl.
set -euo pipefail

: "${HUB_SOURCE_DIR:?set by ctest}" "${HUB_BUILD_DIR:?set by ctest}"
HUBD=${HUBD:-$HUB_BUILD_DIR/core/app/hubd}
HUBCTL=${HUBCTL:-$HUB_BUILD_DIR/core/hubctl/hubctl}
SRC=$(cd "$HUB_SOURCE_DIR" && pwd -P)
work=$(mktemp -d "${TMPDIR:-/tmp}/campushub-outsider-XXXXXX")
work=$(cd "$work" && pwd -P)
hubd_pid=

cleanup() {
    if [[ -n $hubd_pid ]] && kill -0 "$hubd_pid" 2>/dev/null; then
        kill -KILL "$hubd_pid" 2>/dev/null || true
        wait "$hubd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    if [[ -f $work/hub/hubd.log ]]; then
        printf -- '--- hubd log ---\n' >&2
        cat "$work/hub/hubd.log" >&2
    fi
    exit 1
}

[[ -x $HUBD ]] || fail "hubd not built: $HUBD"
[[ -x $HUBCTL ]] || fail "hubctl not built: $HUBCTL"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

step "1. build and install the SDK to $work/prefix"
cmake -S "$SRC/sdk" -B "$work/sdk-build" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release >"$work/sdk-configure.log" \
    || { cat "$work/sdk-configure.log"; fail "configuring the SDK alone"; }
cmake --build "$work/sdk-build" -j2 >"$work/sdk-build.log" || { cat "$work/sdk-build.log"; fail "building the SDK alone"; }
cmake --install "$work/sdk-build" --prefix "$work/prefix" >/dev/null
for f in include/campushub/plugin.h include/campushub/plugin.hpp include/campushub/testing/fake_host.hpp \
         lib/cmake/CampusHubSDK/CampusHubSDKConfig.cmake bin/campushub-conformance \
         share/campushub-sdk/template/CMakeLists.txt share/campushub-sdk/plugin.xsd; do
    [[ -e $work/prefix/$f ]] || fail "the installed SDK lacks $f"
done
if find "$work/prefix" -path '*/include/hub/*' | grep -q .; then
    fail "the installed SDK contains core headers: $(find "$work/prefix" -path '*/include/hub/*' | head -3)"
fi

step "2. build the template alone against the installed SDK"
cp -r "$work/prefix/share/campushub-sdk/template" "$work/vendor"
cmake -S "$work/vendor" -B "$work/vendor-build" "${generator[@]}" "${launcher[@]}" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$work/vendor-configure.log" \
    || { cat "$work/vendor-configure.log"; fail "configuring the template with only the SDK prefix"; }
cmake --build "$work/vendor-build" -j2 >"$work/vendor-build.log" || { cat "$work/vendor-build.log"; fail "building the template"; }
commands=$work/vendor-build/compile_commands.json
[[ -s $commands ]] || fail "no compile_commands.json"
if grep -F -- "$SRC/" "$commands"; then
    fail "a compile line names the hub's source tree ($SRC): the plugin must build from the SDK prefix alone"
fi
grep -q -F -- "$work/prefix/include" "$commands" || fail "the compile lines do not use the SDK prefix's include folder"
plugin_dir=$work/vendor-build/example
[[ -f $plugin_dir/libexample.so && -f $plugin_dir/plugin.xml ]] || fail "the build did not produce example/{libexample.so,plugin.xml}"
exported=$(nm -D --defined-only "$plugin_dir/libexample.so" | awk '$2 == "T" {print $3}')
[[ $exported == campushub_plugin_entry ]] || fail "the plugin exports more functions than the entry point: $exported"
(cd "$work/vendor-build" && ctest --output-on-failure >"$work/vendor-ctest.log") \
    || { cat "$work/vendor-ctest.log"; fail "the template's own tests (fake host, conformance)"; }
if command -v xmllint >/dev/null; then
    xmllint --noout --schema "$work/prefix/share/campushub-sdk/plugin.xsd" "$work/vendor/plugin.xml" \
        || fail "the template's plugin.xml does not validate against the installed plugin.xsd"
fi
# An edit of plugin.xml alone reaches the built folder on the next build (no stale manifest).
sed -i 's|Greets a person by name|Greets a person by name (edited)|' "$work/vendor/plugin.xml"
cmake --build "$work/vendor-build" >>"$work/vendor-build.log" || { cat "$work/vendor-build.log"; fail "rebuilding"; }
grep -q 'by name (edited)' "$plugin_dir/plugin.xml" || fail "editing only plugin.xml did not copy it into $plugin_dir"

step "3. conformance kit on the built template plugin"
"$work/prefix/bin/campushub-conformance" "$plugin_dir" >"$work/conformance.log" 2>&1 \
    || { cat "$work/conformance.log"; fail "campushub-conformance on the template plugin"; }
grep -E '^\[  PASSED  \]' "$work/conformance.log"

step "4. load it into a running hubd and call it over HTTP"
mkdir -p "$work/hub/plugins"
cp -r "$plugin_dir" "$work/hub/plugins/example"
cat >"$work/hub/hub.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<hub>
  <http><address>127.0.0.1</address><port>0</port><portFile>$work/hub/port</portFile></http>
  <store><path>$work/hub/hub.db</path></store>
  <catalog><dir>$SRC/config/catalog</dir></catalog>
  <auth><jwt><hs256Secret>$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')</hs256Secret>
    <issuer>sdk-outsider-test</issuer><audience>campushub</audience></jwt></auth>
  <identity><static><person id="2023010001" name="张三" audience="student"/></static></identity>
  <plugins>
    <dir>$work/hub/plugins</dir>
    <plugin name="example">
      <timeoutMs>5000</timeoutMs>
      <config>
        <base_url>http://127.0.0.1:1/</base_url>
        <greeting>你好</greeting>
      </config>
    </plugin>
  </plugins>
</hub>
XML
"$HUBD" --config="$work/hub/hub.xml" >"$work/hub/hubd.log" 2>&1 &
hubd_pid=$!
for _ in $(seq 1 150); do
    [[ -s $work/hub/port ]] && break
    kill -0 "$hubd_pid" 2>/dev/null || fail "hubd exited before it was ready"
    sleep 0.1
done
[[ -s $work/hub/port ]] || fail "hubd wrote no port file within 15 s"
port=$(tr -d '[:space:]' <"$work/hub/port")
base=http://127.0.0.1:$port
token=$("$HUBCTL" token --config "$work/hub/hub.xml" --sub 2023010001 --ttl 600) || fail "hubctl token"

# call METHOD PATH [BODY] -> sets status, body, ctype
call() {
    local args=(-sS -o "$work/body" -w '%{http_code} %{content_type}' -X "$1" --max-time 20
                -H "Authorization: Bearer $token")
    [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    local out
    out=$(curl "${args[@]}" "$base$2") || fail "curl $1 $2"
    status=${out%% *}
    ctype=${out#* }
    body=$(cat "$work/body")
    printf '%s %s -> %s %s %s\n' "$1" "$2" "$status" "$ctype" "$body"
}

token_saved=$token; token=not-a-token
call GET /api/v1/systems
[[ $status == 401 ]] || fail "a call without a valid token should be 401, got $status"
token=$token_saved

call GET /api/v1/systems
[[ $status == 200 && $body == *'"name":"example"'* ]] || fail "the template plugin is not listed in /api/v1/systems"

call POST /api/v1/systems/example/operations/greet '{"name":"张三"}'
[[ $status == 200 ]] || fail "greet answered HTTP $status"
[[ $body == *'"greeting":"你好, 张三!"'* ]] || fail "greet answered the wrong greeting: $body"
[[ $body == *'"subject":"2023010001"'* ]] || fail "the plugin did not see the token's subject as its caller: $body"

call POST /api/v1/systems/example/operations/greet '{"name":42}'
[[ $status == 400 && $ctype == application/problem+json* ]] || fail "a wrong type should be a 400 problem, got $status $ctype"

call POST /api/v1/systems/example/operations/lookup_book '{"isbn":"9787536692930"}'
[[ $status == 503 && $ctype == application/problem+json* ]] \
    || fail "lookup_book against a closed port should be a 503 problem, got $status $ctype"

call POST /api/v1/systems/example/operations/no_such_operation '{}'
[[ $status == 404 ]] || fail "an undeclared operation should be 404, got $status"

kill -TERM "$hubd_pid"
rc=0
wait "$hubd_pid" || rc=$?
hubd_pid=
[[ $rc == 0 ]] || fail "hubd exited with status $rc on SIGTERM"
if grep -q 'plugin refused' "$work/hub/hubd.log"; then fail "hubd refused a plugin"; fi
printf '\nPASS: the outsider path works end to end\n'
