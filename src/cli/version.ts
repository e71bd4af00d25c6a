/** The package version, read from the package.json above src/ or dist/ (dist/cli or dist/src/cli). */
import { existsSync, readFileSync } from 'node:fs';

const candidates = ['../../package.json', '../../../package.json'];

export function packageVersion(): string {
  for (const candidate of candidates) {
    const url = new URL(candidate, import.meta.url);
    if (!existsSync(url)) continue;
    const packageJson: unknown = JSON.parse(readFileSync(url, 'utf8'));
    if (typeof packageJson === 'object' && packageJson !== null && 'name' in packageJson && packageJson.name === 'quorumlite' && 'version' in packageJson) {
      return String(packageJson.version);
    }
  }
  return 'unknown';
}
