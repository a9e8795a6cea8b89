/**
 * ajv-formats' format table as an asset of its own (assets/lib/handlers/ajv-formats), copied next to a synth-compiled
 * schema validator whose schema uses formats (constructs/private/asset.ts): the ingest bundle does not carry it.
 */
export { fastFormats, fullFormats } from 'ajv-formats/dist/formats';
