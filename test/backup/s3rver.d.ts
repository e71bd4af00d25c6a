/** The parts of s3rver (a local S3-protocol server, a dev dependency without types) the tests use. */
// biome-ignore lint/correctness/noUnresolvedImports: the module declared here; its package.json "main" is one biome's resolver does not follow
declare module 's3rver' {
  interface S3rverOptions {
    readonly address?: string;
    readonly port?: number;
    readonly silent?: boolean;
    readonly directory?: string;
    readonly configureBuckets?: readonly { readonly name: string }[];
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ readonly address: string; readonly port: number }>;
    close(): Promise<void>;
  }
}
