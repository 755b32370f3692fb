#!/usr/bin/env node
// Checks openapi.yaml offline; exits 1 with one line per problem.
//   1. It is a valid OpenAPI 3.0 document: @apidevtools/swagger-parser validates it against the
//      OpenAPI 3.0 JSON schema and resolves every $ref. For 3.x that validator stops there, so
//      this script adds the two rules it skips: operationIds are unique, and every {name} in a
//      path is declared as a required path parameter.
//   2. It has not drifted from the code:
//      - components.schemas.ErrorCode.enum lists exactly the codes of `fn code` in
//        shared/src/error.rs;
//      - each code sits under the status `fn status` gives it: schema Error<status> lists exactly
//        the codes of that status, and every error example under a response has one of them;
//      - the seven routes of API.md exist (path and method);
//      - x-cors lists the methods and headers of local/src/cors.rs, and every exposed header is
//        documented on some response.
// Needs `make deps` (node_modules). Usage: node scripts/openapi-check.mjs
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SPEC = `${ROOT}openapi.yaml`;
const ERROR_RS = `${ROOT}shared/src/error.rs`;
const CORS_RS = `${ROOT}local/src/cors.rs`;
const ROUTES = [
  ['/api/jobs/{job_id}/quote-chat/', 'get'],
  ['/api/jobs/{job_id}/quote-chat/', 'post'],
  ['/api/jobs/{job_id}/quote-chat/', 'delete'],
  ['/api/jobs/{job_id}/quote-chat/{message_id}/', 'patch'],
  ['/api/jobs/{job_id}/quote-chat/summary/', 'get'],
  ['/api/jobs/{job_id}/quote-chat/export/', 'get'],
  ['/api/jobs/{job_id}/quote-chat/restore/', 'post'],
];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const problems = [];
const problem = (text) => problems.push(text);

function fail(text) {
  console.error(`openapi.yaml: ${text}`);
  process.exit(1);
}

let SwaggerParser;
try {
  ({ default: SwaggerParser } = await import('@apidevtools/swagger-parser'));
} catch {
  fail("@apidevtools/swagger-parser is missing: run 'make deps'");
}

// ---- the code ---------------------------------------------------------------------------------

/** The body of `fn <name>` in Rust source: from its first `{` to the matching `}`. */
function fnBody(source, name, file) {
  const start = source.search(new RegExp(`\\bfn\\s+${name}\\s*\\(`));
  const open = start < 0 ? -1 : source.indexOf('{', start);
  if (open < 0) fail(`cannot find fn ${name} in ${file}`);
  let depth = 0;
  for (let i = open; i < source.length; i += 1) {
    if (source[i] === '{') depth += 1;
    if (source[i] === '}' && --depth === 0) return source.slice(open + 1, i);
  }
  return fail(`fn ${name} in ${file} has no closing brace`);
}

/**
 * The arms `Self::A | Self::B { .. } => <value>` of a match, as [variant names, value text].
 * `value` is a regex source with one capture group.
 */
function matchArms(body, value) {
  const variant = String.raw`(?:Self|ApiError)::\w+(?:\s*\{\s*\.\.\s*\})?`;
  const arm = new RegExp(`((?:\\|?\\s*${variant}\\s*)+)=>\\s*${value}`, 'g');
  return [...body.matchAll(arm)].map(([, variants, result]) => [
    [...variants.matchAll(/::(\w+)/g)].map((m) => m[1]),
    result,
  ]);
}

/** code -> status: the `=> "CODE"` arms of fn code, each with the status fn status gives it. */
function codesOfTheCode() {
  const file = 'shared/src/error.rs';
  const source = readFileSync(ERROR_RS, 'utf8');
  const codeBody = fnBody(source, 'code', file);
  const allCodes = [...codeBody.matchAll(/=>\s*"([^"]+)"/g)].map((m) => m[1]);
  if (allCodes.length === 0) fail(`found no '=> "CODE"' arm in fn code of ${file}`);
  const statusOf = new Map();
  for (const [names, status] of matchArms(fnBody(source, 'status', file), String.raw`(\d{3})`)) {
    for (const name of names) statusOf.set(name, Number(status));
  }
  const codes = new Map();
  for (const [names, code] of matchArms(codeBody, '"([^"]+)"')) {
    for (const name of names) {
      if (!statusOf.has(name)) fail(`ApiError::${name} has code ${code} but no status in fn status of ${file}`);
      if (codes.has(code) && codes.get(code) !== statusOf.get(name)) {
        fail(`code ${code} has two statuses in ${file}`);
      }
      codes.set(code, statusOf.get(name));
    }
  }
  for (const code of allCodes) {
    if (!codes.has(code)) fail(`cannot tell which ApiError variant answers ${code} in fn code of ${file}`);
  }
  return codes;
}

/** The comma-separated list of `pub const NAME: &str = "..."` in local/src/cors.rs. */
function corsList(source, name) {
  const match = source.match(new RegExp(`const\\s+${name}\\s*:\\s*&str\\s*=\\s*"([^"]*)"`));
  if (!match) fail(`cannot find const ${name} in local/src/cors.rs`);
  return match[1].split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

// ---- helpers ----------------------------------------------------------------------------------

const sorted = (items) => [...items].sort();
const sameSet = (a, b) => JSON.stringify(sorted(new Set(a))) === JSON.stringify(sorted(new Set(b)));
const list = (items) => (items.length ? items.join(', ') : '(none)');

function* operations(api) {
  for (const [path, item] of Object.entries(api.paths ?? {})) {
    for (const method of METHODS) {
      if (item?.[method]) yield { path, method, item, operation: item[method] };
    }
  }
}

/** Every example value of a response or request body: `example` and `examples.*.value`. */
function* exampleValues(content) {
  for (const [mediaType, media] of Object.entries(content ?? {})) {
    if (media.example !== undefined) yield [mediaType, 'example', media.example];
    for (const [name, example] of Object.entries(media.examples ?? {})) {
      yield [mediaType, name, example?.value];
    }
  }
}

// ---- 1. a valid OpenAPI 3.0 document ----------------------------------------------------------

const started = process.hrtime.bigint();
let raw;
let api;
try {
  raw = await SwaggerParser.parse(SPEC);
  if (!/^3\.0\.\d+$/.test(String(raw.openapi))) fail(`openapi is ${raw.openapi}, expected 3.0.x`);
  api = await SwaggerParser.validate(SPEC); // dereferenced: every $ref replaced by its target
} catch (err) {
  fail(`not a valid OpenAPI 3.0 document: ${err.message}`);
}

const operationIds = new Map();
for (const { path, method, item, operation } of operations(api)) {
  const where = `${method.toUpperCase()} ${path}`;
  if (operation.operationId) {
    if (operationIds.has(operation.operationId)) {
      problem(`operationId ${operation.operationId} of ${where} is also used by ${operationIds.get(operation.operationId)}`);
    }
    operationIds.set(operation.operationId, where);
  }
  const declared = new Map();
  for (const parameter of [...(item.parameters ?? []), ...(operation.parameters ?? [])]) {
    if (parameter.in === 'path') declared.set(parameter.name, parameter.required === true);
  }
  const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  for (const name of templated) {
    if (!declared.has(name)) problem(`${where}: path parameter {${name}} is not declared`);
    else if (!declared.get(name)) problem(`${where}: path parameter ${name} must be required: true`);
  }
  for (const name of declared.keys()) {
    if (!templated.includes(name)) problem(`${where}: path parameter ${name} is not in the path`);
  }
}

// ---- 2. no drift from the code ----------------------------------------------------------------

const codes = codesOfTheCode(); // code -> status

const specCodes = raw.components?.schemas?.ErrorCode?.enum;
if (!Array.isArray(specCodes)) {
  problem('components.schemas.ErrorCode.enum is missing');
} else {
  const missing = [...codes.keys()].filter((c) => !specCodes.includes(c));
  const extra = specCodes.filter((c) => !codes.has(c));
  const repeated = specCodes.filter((c, i) => specCodes.indexOf(c) !== i);
  if (missing.length) problem(`ErrorCode enum lacks codes of shared/src/error.rs: ${list(missing)}`);
  if (extra.length) problem(`ErrorCode enum has codes shared/src/error.rs does not answer: ${list(extra)}`);
  if (repeated.length) problem(`ErrorCode enum repeats ${list(repeated)}`);
}

// Error<status> schemas (read before dereferencing, so the base Error's full enum is not mixed in).
const statusSchemas = new Map();
for (const [name, schema] of Object.entries(raw.components?.schemas ?? {})) {
  const match = name.match(/^Error(\d{3})$/);
  if (!match) continue;
  const enums = (schema.allOf ?? [schema])
    .filter((part) => !part.$ref)
    .flatMap((part) => part.properties?.code?.enum ?? []);
  statusSchemas.set(Number(match[1]), enums);
}
const statuses = new Set(codes.values());
for (const status of sorted(statuses)) {
  const want = [...codes].filter(([, s]) => s === status).map(([c]) => c);
  if (!statusSchemas.has(status)) {
    problem(`no schema Error${status} for the ${status} codes of shared/src/error.rs: ${list(want)}`);
  } else if (!sameSet(statusSchemas.get(status), want)) {
    problem(`Error${status} lists ${list(statusSchemas.get(status))}; shared/src/error.rs answers ${status} with ${list(want)}`);
  }
}
for (const status of statusSchemas.keys()) {
  if (!statuses.has(status)) problem(`schema Error${status}: shared/src/error.rs answers no code with ${status}`);
}

for (const { path, method, operation } of operations(api)) {
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    for (const [mediaType, name, value] of exampleValues(response?.content)) {
      const code = value?.code;
      if (code === undefined) continue; // a success body, or API Gateway's own {"message": ...}
      const where = `${method.toUpperCase()} ${path} ${status} ${mediaType} example ${name}`;
      if (!codes.has(code)) problem(`${where}: unknown code ${code}`);
      else if (String(codes.get(code)) !== status) problem(`${where}: ${code} is answered with ${codes.get(code)}, not ${status}`);
    }
  }
}

for (const [path, method] of ROUTES) {
  if (!api.paths?.[path]?.[method]) problem(`route ${method.toUpperCase()} ${path} is missing`);
}

const corsSource = readFileSync(CORS_RS, 'utf8');
const cors = raw['x-cors'] ?? {};
for (const [key, constant] of [
  ['allowMethods', 'ALLOW_METHODS'],
  ['allowHeaders', 'ALLOW_HEADERS'],
  ['exposeHeaders', 'EXPOSE_HEADERS'],
]) {
  const want = corsList(corsSource, constant);
  const have = (cors[key] ?? []).map((s) => String(s).toLowerCase());
  if (!sameSet(have, want)) problem(`x-cors.${key} is ${list(have)}; local/src/cors.rs ${constant} is ${list(want)}`);
}
const documentedHeaders = new Set();
for (const { operation } of operations(api)) {
  for (const response of Object.values(operation.responses ?? {})) {
    for (const name of Object.keys(response?.headers ?? {})) documentedHeaders.add(name.toLowerCase());
  }
}
// Responses no operation can carry (405, the unknown-path 404) live in components only.
for (const response of Object.values(api.components?.responses ?? {})) {
  for (const name of Object.keys(response?.headers ?? {})) documentedHeaders.add(name.toLowerCase());
}
for (const header of corsList(corsSource, 'EXPOSE_HEADERS')) {
  if (!documentedHeaders.has(header)) problem(`exposed header ${header} is documented on no response`);
}

// ---- result -----------------------------------------------------------------------------------

const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
if (problems.length) {
  for (const text of problems) console.error(`openapi.yaml: ${text}`);
  console.error(`openapi.yaml: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(
  `openapi.yaml: valid OpenAPI ${raw.openapi}; ${codes.size} error codes and their statuses, ` +
    `${ROUTES.length} routes and CORS headers match the code (${ms} ms)`,
);
