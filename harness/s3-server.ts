// A real S3-protocol server (s3rver) on a free port of 127.0.0.1, as a child process the tests stop by PID:
//   node s3-server.js <data dir> <bucket>   prints {"port": N} once it listens.
// Its objects live in <data dir>, so a server killed and started again on the same folder has the same bucket.
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
