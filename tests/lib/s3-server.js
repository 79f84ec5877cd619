// s3-server.js - the S3 server the tests run: s3rver (npm) for storage and
// the S3 API, behind a front that verifies every request's AWS Signature
// Version 4 the way Amazon S3 does, with AWS's own signer
// (@smithy/signature-v4, the AWS SDK's) recomputing each signature from
// the request as received. s3rver alone checks no SigV4 signature (its
// code says "Signature version 4 calculation is unimplemented": a wrong
// secret gets 200), so a test on it alone would prove nothing.
//
// Checked: Authorization header (credential scope, signed headers,
// signature), x-amz-date skew (15 min), x-amz-content-sha256 against the
// body when it is a hash, and presigned query URLs (X-Amz-* parameters,
// expiry). Anything unsigned or mis-signed gets S3's 403 XML error.
//
// usage: node s3-server.js --port P --dir D --access-key A --secret-key S
//        [--region R] [--bucket B]... [--address A (127.0.0.1)]
//        (prints "ready <port>" when up)
'use strict';

const crypto = require('crypto');
const { Readable } = require('stream');
const S3rver = require('s3rver');
const { SignatureV4 } = require('@smithy/signature-v4');

const args = { region: 'us-east-1', buckets: [] };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  const v = process.argv[i + 1];
  if (k === 'bucket') args.buckets.push(v);
  else args[k.replace(/-/g, '_')] = v;
}
for (const need of ['port', 'dir', 'access_key', 'secret_key']) {
  if (!args[need]) {
    console.error(`s3-server.js: --${need.replace(/_/g, '-')} is required`);
    process.exit(2);
  }
}

class Sha256 {
  constructor(secret) {
    this.h = secret ? crypto.createHmac('sha256', secret) : crypto.createHash('sha256');
  }
  update(data) {
    this.h.update(data);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

const signer = new SignatureV4({
  credentials: { accessKeyId: args.access_key, secretAccessKey: args.secret_key },
  region: args.region,
  service: 's3',
  sha256: Sha256,
  uriEscapePath: true,
});

function xmlError(ctx, status, code, message) {
  ctx.status = status;
  ctx.type = 'application/xml';
  const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(
    message,
  )}</Message></Error>`;
}

function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// The request as the signer sees it: decoded path (the signer encodes each
// segment once, as S3 does), decoded query (a key without '=' has the
// value ""), and only the headers the client says it signed.
function signable(ctx, signedHeaders, dropQuery) {
  const raw = ctx.req.url;
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const query = {};
  if (q >= 0) {
    for (const part of raw.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, '%20'));
      if (dropQuery && dropQuery(key)) continue;
      if (key in query) query[key] = [].concat(query[key], value);
      else query[key] = value;
    }
  }
  const path = rawPath
    .split('/')
    .map(s => decodeURIComponent(s))
    .join('/');
  const headers = {};
  for (const name of signedHeaders) {
    const v = ctx.req.headers[name];
    if (v === undefined) return null;
    headers[name] = Array.isArray(v) ? v.join(',') : v;
  }
  return { method: ctx.method, protocol: 'http:', hostname: ctx.req.headers.host, path, query, headers };
}

async function verifyHeader(ctx) {
  const auth = ctx.req.headers.authorization;
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    auth,
  );
  if (!m) return xmlError(ctx, 400, 'AuthorizationHeaderMalformed', 'malformed Authorization');
  const [, access, day, region, signedList, signature] = m;
  if (access !== args.access_key)
    return xmlError(ctx, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  if (region !== args.region)
    return xmlError(ctx, 400, 'AuthorizationHeaderMalformed', `the region '${region}' is wrong; expecting '${args.region}'`);
  const date = parseAmzDate(ctx.req.headers['x-amz-date']);
  if (!date || !day || ctx.req.headers['x-amz-date'].slice(0, 8) !== day)
    return xmlError(ctx, 403, 'AccessDenied', 'missing or mismatched x-amz-date');
  if (Math.abs(Date.now() - date.getTime()) > 15 * 60 * 1000)
    return xmlError(ctx, 403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  const signedHeaders = signedList.split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-content-sha256'))
    return xmlError(ctx, 403, 'AccessDenied', 'host and x-amz-content-sha256 must be signed');
  const req = signable(ctx, signedHeaders);
  if (!req) return xmlError(ctx, 403, 'AccessDenied', 'a signed header is missing');
  const signed = await signer.sign(req, { signingDate: date, signableHeaders: new Set(signedHeaders) });
  const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];
  if (!crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature)))
    return xmlError(ctx, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');

  const contentHash = ctx.req.headers['x-amz-content-sha256'];
  if (/^[0-9a-f]{64}$/.test(contentHash)) {
    const chunks = [];
    for await (const c of ctx.req) chunks.push(c);
    const body = Buffer.concat(chunks);
    if (crypto.createHash('sha256').update(body).digest('hex') !== contentHash)
      return xmlError(ctx, 400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
    ctx.req = Readable.from(body.length ? [body] : []);
  } else if (contentHash !== 'UNSIGNED-PAYLOAD') {
    return xmlError(ctx, 400, 'InvalidArgument', 'x-amz-content-sha256 must be a hash or UNSIGNED-PAYLOAD');
  }
  return true;
}

async function verifyQuery(ctx) {
  const q = ctx.query;
  const cred = /^([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request$/.exec(q['X-Amz-Credential'] || '');
  const date = parseAmzDate(q['X-Amz-Date']);
  const expires = parseInt(q['X-Amz-Expires'], 10);
  if (q['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256' || !cred || !date || !(expires > 0) || !/^[0-9a-f]{64}$/.test(q['X-Amz-Signature'] || ''))
    return xmlError(ctx, 400, 'AuthorizationQueryParametersError', 'malformed presigned URL');
  if (cred[1] !== args.access_key)
    return xmlError(ctx, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  if (Date.now() > date.getTime() + expires * 1000)
    return xmlError(ctx, 403, 'AccessDenied', 'Request has expired');
  const signedHeaders = (q['X-Amz-SignedHeaders'] || '').split(';');
  const req = signable(ctx, signedHeaders, key => key.startsWith('X-Amz-'));
  if (!req) return xmlError(ctx, 403, 'AccessDenied', 'a signed header is missing');
  // S3 presigned URLs sign the payload as UNSIGNED-PAYLOAD (not a header)
  req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const url = await signer.presign(req, {
    signingDate: date,
    expiresIn: expires,
    unsignableHeaders: new Set(['x-amz-content-sha256']),
    unhoistableHeaders: new Set(['x-amz-content-sha256']),
  });
  if (!crypto.timingSafeEqual(Buffer.from(url.query['X-Amz-Signature']), Buffer.from(q['X-Amz-Signature'])))
    return xmlError(ctx, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  return true;
}

// Three multipart calls s3rver 3.7 lacks, answered here from its own
// filesystem store (<dir>/<bucket>/._S3rver_uploads/<id>/{key,N,N.md5}):
// ListMultipartUploads (GET /bucket?uploads), ListParts (GET
// /bucket/key?uploadId=) and AbortMultipartUpload (DELETE
// /bucket/key?uploadId=). Distribution's s3 driver lists both to resume an
// upload. Returns false when the request is none of them.
const fs = require('fs');
const path = require('path');
const xmlEsc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
function multipartExtra(ctx) {
  const m = /^\/([^/?]+)(?:\/([^?]*))?$/.exec(ctx.path);
  if (!m) return false;
  const bucket = decodeURIComponent(m[1]);
  const key = m[2] ? m[2].split('/').map(decodeURIComponent).join('/') : '';
  const uploads = path.join(args.dir, bucket, '._S3rver_uploads');
  const uploadDir = id => (/^[0-9a-f]+$/.test(id) ? path.join(uploads, id) : null);
  const uploadKey = dir => {
    try {
      return fs.readFileSync(path.join(dir, 'key'), 'utf8');
    } catch (e) {
      return null;
    }
  };
  ctx.type = 'application/xml';
  if (ctx.method === 'GET' && !key && 'uploads' in ctx.query) {
    const prefix = ctx.query.prefix || '';
    let ids = [];
    try {
      ids = fs.readdirSync(uploads);
    } catch (e) {}
    const list = ids
      .map(id => ({ id, key: uploadKey(path.join(uploads, id)) }))
      .filter(u => u.key !== null && u.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(u => {
        const at = fs.statSync(path.join(uploads, u.id)).mtime.toISOString();
        return `<Upload><Key>${xmlEsc(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${at}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`;
      });
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${xmlEsc(bucket)}</Bucket><Prefix>${xmlEsc(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${list.join('')}</ListMultipartUploadsResult>`;
    return true;
  }
  if (!key || !('uploadId' in ctx.query) || (ctx.method !== 'GET' && ctx.method !== 'DELETE')) return false;
  const dir = uploadDir(ctx.query.uploadId);
  if (!dir || uploadKey(dir) !== key) {
    xmlError(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    return true;
  }
  if (ctx.method === 'DELETE') {
    fs.rmSync(dir, { recursive: true, force: true });
    ctx.status = 204;
    ctx.body = null;
    return true;
  }
  const parts = fs
    .readdirSync(dir)
    .filter(f => /^[0-9]+$/.test(f))
    .map(Number)
    .sort((a, b) => a - b)
    .map(n => {
      const st = fs.statSync(path.join(dir, String(n)));
      const md5 = fs.readFileSync(path.join(dir, `${n}.md5`), 'utf8').trim();
      return `<Part><PartNumber>${n}</PartNumber><LastModified>${st.mtime.toISOString()}</LastModified><ETag>"${md5}"</ETag><Size>${st.size}</Size></Part>`;
    });
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult><Bucket>${xmlEsc(bucket)}</Bucket><Key>${xmlEsc(key)}</Key><UploadId>${ctx.query.uploadId}</UploadId><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`;
  return true;
}

async function main() {
  const server = new S3rver({
    address: args.address || '127.0.0.1',
    port: Number(args.port),
    directory: args.dir,
    silent: true,
    vhostBuckets: false,
    configureBuckets: args.buckets.map(name => ({ name })),
  });
  server.middleware.unshift(async (ctx, next) => {
    const incoming = ctx.req;
    let ok;
    if ('authorization' in ctx.req.headers) ok = await verifyHeader(ctx);
    else if ('X-Amz-Algorithm' in ctx.query) ok = await verifyQuery(ctx);
    else ok = xmlError(ctx, 403, 'AccessDenied', 'Anonymous access is forbidden for this operation');
    if (ok === true) {
      // s3rver would check the signature again with its own (v2) code
      delete incoming.headers.authorization;
      for (const k of Object.keys(ctx.query)) if (k.startsWith('X-Amz-')) delete ctx.query[k];
      if (!multipartExtra(ctx)) await next();
    }
  });
  const { port } = await server.run();
  console.log(`ready ${port}`);
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(e => {
  console.error(`s3-server.js: ${e.stack || e}`);
  process.exit(1);
});
