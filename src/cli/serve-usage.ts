/** `quorumlite serve --help`. */
import { nodeConfigDefaults } from '../node/config.js';

export const serveUsage = `Usage: quorumlite serve [flags] [data directory]

rqlited's command line works as is: -flag value, -flag=value, --flag value, booleans as
-flag or -flag=false, the data directory last (default ./data). docs/FLAGS.md lists
every rqlited flag and what quorumlite does with it.

Addresses and cluster
  --node-id ID              unique node id (default: the advertised Raft address)
  --http-addr HOST:PORT     HTTP API listen address (default 127.0.0.1:4001)
  --http-adv-addr HOST:PORT HTTP address advertised to other nodes (default: --http-addr)
  --raft-addr HOST:PORT     Raft listen address (default 127.0.0.1:4002)
  --raft-adv-addr HOST:PORT Raft address advertised to other nodes (default: --raft-addr)
  --data-dir DIR            data directory (or give it last, as rqlited does)
  --join ADDR[,ADDR...]     cluster members to join: Raft addresses HOST:PORT, or HTTP
                            addresses http(s)://HOST:PORT (their /status names the Raft address)
  --join-attempts N         rounds of join attempts over every --join address (default 5)
  --join-interval DURATION  pause between rounds of join attempts (default 3s)
  --join-as USER            join as this -auth user: its password comes from the -auth file
  --bootstrap-expect N      form a cluster of N nodes found through --join (or DNS discovery)
  --bootstrap-expect-timeout DURATION  give up forming after this long (default 120s)
  --raft-non-voter          join as a non-voting member (read replica)
  --cluster-connect-timeout DURATION   dialling a peer, handshake included (default 3s)

Discovery (docs/OPERATIONS.md; ignored by a node that has state)
  --disco-mode MODE         etcd-kv, dns or dns-srv: find the cluster instead of --join
  --disco-key KEY           etcd-kv: the leader is kept under /KEY/leader (default rqlite)
  --disco-config JSON|FILE  etcd-kv {"endpoints":[...]}, dns {"name","port"}, dns-srv
                            {"name","service"}; dns and dns-srv also {"resolver":"IP[:PORT]"}

Raft
  --raft-heartbeat-timeout DURATION  follower timeout before an election, [T, 2T); the
                            heartbeat is a tenth of it (default 300ms; rqlited: 1s)
  --raft-election-timeout DURATION   candidate timeout before a new election (default:
                            the follower timeout)
  --heartbeat-ms MS         leader heartbeat interval (default ${nodeConfigDefaults.heartbeatMs})
  --election-timeout-ms MS  the follower timeout in ms (default ${nodeConfigDefaults.electionTimeoutMs})
  --raft-apply-timeout DURATION      how long a write waits to apply (default 10s)
  --raft-snap N             snapshot after N applied entries (default ${nodeConfigDefaults.snapshotThresholdEntries})
  --raft-snap-int DURATION  how often to check the snapshot threshold (default ${nodeConfigDefaults.snapshotIntervalMs / 1000}s)
  --raft-trailing-logs N    log entries kept behind a snapshot (default 1.25 x --raft-snap)
  --raft-snap-wal-size BYTES snapshot once the SQLite WAL holds this many bytes; 0: never for its size (default 4194304)
  --raft-log-level LEVEL    ERROR|WARN|INFO|DEBUG|TRACE|OFF for Raft events (default: --log-level)

Cluster operations (docs/OPERATIONS.md)
  --raft-cluster-remove-shutdown[=BOOL]  leave the cluster on graceful shutdown (default false)
  --raft-remove-shutdown[=BOOL]          exit once removed from the cluster (default false)
  --raft-shutdown-stepdown[=BOOL]        a leader hands leadership over on shutdown (default true)
  --raft-reap-node-timeout DURATION      the leader removes voters unreachable this long (default 0h: never)
  --raft-reap-read-only-node-timeout DURATION  the same for non-voters (default 0h: never)
  raft/peers.json in the data directory  lost-quorum recovery at start (read once, then renamed peers.info)

Queued writes (?queue)
  --write-queue-capacity N  queued writes held at most (default ${nodeConfigDefaults.writeQueueCountMax})
  --write-queue-batch-size N  queued writes per log entry at most (default ${nodeConfigDefaults.writeQueueBatchCountMax})
  --write-queue-timeout DURATION  send a batch this long after its first write, full or not
                            (default ${nodeConfigDefaults.writeQueueTimeoutMs}ms; 0s: only when full)
  --write-queue-tx[=BOOL]   one transaction per batch of queued writes (default false)

TLS (docs/SECURITY.md; files re-read when they change)
  --http-cert FILE --http-key FILE  serve the HTTP API over HTTPS
  --http-ca-cert FILE       CA for client certificates and for https:// --join addresses
  --http-verify-client      mutual TLS: clients must show a certificate the CA signed
  --http-verify-common-name NAME    …whose Common Name is NAME
  --node-cert FILE --node-key FILE  TLS between nodes
  --node-ca-cert FILE       CA for other nodes' certificates
  --node-verify-client      mutual TLS between nodes: a node without a trusted certificate cannot join
  --node-verify-server-name NAME    the name nodes' certificates carry, instead of their addresses
  --node-verify-common-name NAME    the Common Name a dialling node's certificate must have
  --node-no-verify          check no node certificate (tests only)

Database and HTTP
  --fk                      enforce foreign key constraints (default off; give it to every node or none)
  --db-count-max N          databases at most, the default one included (default ${nodeConfigDefaults.databaseCountMax}; equal on every node)
  --sqlite-page-size N      SQLite page size of a database this node creates (default ${nodeConfigDefaults.sqlitePageSize}; 512-65536, a power of two)
  --extensions-path PATHS   SQLite extensions: files, directories, zip or tar.gz, comma-separated
  --auto-vacuum-int DURATION   VACUUM every node, through the log, this often (default 0s: off)
  --auto-optimize-int DURATION refresh query-planner statistics this often (default 24h; 0s: off)
  --db-max-ro-conns N       bound on read-only connections (quorumlite uses one)
  --http-allow-origin ORIGIN  Access-Control-Allow-Origin on every response
  --auth FILE               users, passwords and permissions (rqlite's JSON format; reloaded
                            when it changes); without it every request is allowed
  --http-max-body-bytes N   largest request body accepted (default 64 MiB)
  --log-level LEVEL         trace|debug|info|warn|error|silent (default info)

Consensus (docs/ARCHITECTURE.md, "etcd as the log")
  --consensus raft|etcd     the embedded Raft (default), or a log kept in an etcd cluster
  --etcd-endpoints URLS     etcd's client URLs, comma-separated (with --consensus etcd)
  --etcd-prefix PREFIX      the keys this cluster's log lives under (default /quorumlite)
  --etcd-lease-ttl SECONDS  the session lease: a stopped leader is replaced after it (default 2)
  --etcd-compaction-lag-max ENTRIES
                            compaction passes a live node this far behind; it then catches
                            up from a snapshot (default 100000)
  --etcd-ca-cert FILE       with https:// endpoints: the CA that signed etcd's certificate
  --etcd-cert FILE, --etcd-key FILE
                            with https:// endpoints: this node's client certificate and key

Backups (docs/BACKUPS.md)
  --auto-backup FILE        rqlite's automatic backup config (JSON, s3 or file): the leader uploads
                            on change; with "point_in_time", also the log archive for
                            point-in-time restore (quorumlite restore --help)
  --auto-restore FILE       rqlite's automatic restore config: a node without data loads the backup

Change data capture
  --cdc-config URL|FILE     rqlite's CDC: row changes POSTed to URL (or printed: stdout), or the
                            settings of rqlite's JSON file (docs/ARCHITECTURE.md)
  --version                 print the version and exit
  --help                    show this help
`;
