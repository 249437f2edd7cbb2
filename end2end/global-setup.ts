// Once per run: a throwaway CA and a localhost certificate for https peers that Node must
// trust (nginx in front of Gatehouse). Workers inherit NODE_EXTRA_CA_CERTS, which Node reads
// only at start-up.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from './fixtures/tls';

export default function globalSetup() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-tls-'));
  makeCertificates(dir);
  process.env.GATEHOUSE_E2E_TLS_DIR = dir;
  process.env.NODE_EXTRA_CA_CERTS = join(dir, 'ca.pem');
}
