#!/bin/bash
# s3-run.sh CMD [ARGS...] - runs CMD against a freshly started S3 test
# server: SLIPWAY_TEST_BACKEND=s3 and SLIPWAY_TEST_S3_* name the endpoint,
# bucket and keys. The server and its directory are gone afterwards; CMD's
# exit status is returned.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/s3-lib.sh"
dir=$(mktemp -d "${SLIPWAY_TEST_TMP:-/tmp}/s3-run.XXXXXX")
trap 'sw_s3_stop; rm -rf "$dir"' EXIT
sw_s3_start "$dir"
export SLIPWAY_TEST_BACKEND=s3 SLIPWAY_TEST_S3_ENDPOINT=$SW_S3_ENDPOINT \
    SLIPWAY_TEST_S3_REGION=$SW_S3_REGION SLIPWAY_TEST_S3_BUCKET=$SW_S3_BUCKET \
    SLIPWAY_TEST_S3_ACCESS_KEY=$SW_S3_ACCESS_KEY SLIPWAY_TEST_S3_SECRET_KEY=$SW_S3_SECRET_KEY
status=0
"$@" || status=$?
exit $status
