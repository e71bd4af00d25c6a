/** The package version, read from package.json beside dist/ or src/. */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  const packageJson: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  if (typeof packageJson === 'object' && packageJson !== null && 'version' in packageJson) {
    return String(packageJson.version);
  }
  return 'unknown';
}
