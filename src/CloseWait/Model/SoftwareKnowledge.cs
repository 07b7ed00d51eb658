using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using CloseWait.Platform;

namespace CloseWait
{
    /// <summary>How a server spreads its work, which decides what "add capacity" can mean.</summary>
    internal enum SoftwareModel
    {
        /// <summary>Nothing known.</summary>
        Unknown,

        /// <summary>A pool of worker processes or threads: more of them serve more at once.</summary>
        Workers,

        /// <summary>One event loop (per process): one slow handler or command stalls every client; more workers do not apply.</summary>
        EventLoop,

        /// <summary>A process (or thread) per connection, forked by a parent: each connection is its own backend.</summary>
        ProcessPerConnection,

        /// <summary>A runtime whose program decides (a JVM, .NET, Python, Go program).</summary>
        Runtime,
    }

    /// <summary>
    /// One row of <see cref="SoftwareKnowledge"/>: how to recognise a piece of software from what the
    /// host shows of its processes, and its own knobs for each cause. Advice strings may hold
    /// {pid} (the main process) and {port} (its listening port); null means "nothing specific".
    /// </summary>
    internal sealed class SoftwareProfile
    {
        /// <summary>The name shown in Software.</summary>
        public string Name { get; set; } = string.Empty;

        /// <summary>Process names (Linux comm, Windows image name without .exe); a trailing * matches a prefix.</summary>
        public string[] ProcessNames { get; set; } = new string[0];

        /// <summary>A pattern on the command line, for software run by an interpreter (gunicorn under python3).</summary>
        public string? CommandLine { get; set; }

        public SoftwareModel Model { get; set; }

        /// <summary>Holds data a SIGKILL loses or recovers from (a database): never advise killing it.</summary>
        public bool Stateful { get; set; }

        /// <summary>How to stop or restart it gracefully.</summary>
        public string? GracefulStop { get; set; }

        /// <summary>As the server that closes idle keep-alive connections: its knob.</summary>
        public string? ServerIdleTimeout { get; set; }

        /// <summary>As a client whose pool keeps connections the server closed: its knob.</summary>
        public string? ClientPool { get; set; }

        /// <summary>Idle connections its client pool keeps per host at most (urllib3: 10); null when unbounded or unknown.</summary>
        public int? PoolPerHost { get; set; }

        /// <summary>It stopped reading (NotRead, AcceptBacklog, ClientTimeout): where to look and what bounds it.</summary>
        public string? Stalled { get; set; }

        /// <summary>It read the peer's end of stream and keeps the socket (NotClosed).</summary>
        public string? NotClosed { get; set; }

        /// <summary>Children inherit its sockets (Inherited).</summary>
        public string? Inherited { get; set; }

        /// <summary>A command that shows what its threads wait on.</summary>
        public string? Inspect { get; set; }

        /// <summary>Where the knobs above are documented.</summary>
        public string Source { get; set; } = string.Empty;

        internal bool Matches(ProcessFacts facts)
        {
            foreach (var pattern in ProcessNames)
            {
                if (NameMatches(pattern, facts.Name) || NameMatches(pattern, BaseName(facts.Executable)))
                {
                    return true;
                }
            }

            return CommandLine != null && facts.CommandLine != null
                && Regex.IsMatch(facts.CommandLine, CommandLine, RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
        }

        private static bool NameMatches(string pattern, string? name)
        {
            if (name == null)
            {
                return false;
            }

            if (name.EndsWith(".exe", StringComparison.OrdinalIgnoreCase))
            {
                name = name.Substring(0, name.Length - 4);
            }

            return pattern.EndsWith("*", StringComparison.Ordinal)
                ? name.StartsWith(pattern.Substring(0, pattern.Length - 1), StringComparison.OrdinalIgnoreCase)
                : string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
        }

        private static string? BaseName(string? path)
        {
            if (path == null)
            {
                return null;
            }

            int slash = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
            return slash >= 0 ? path.Substring(slash + 1) : path;
        }
    }

    /// <summary>
    /// What CloseWait knows of the software people run: one row per program, first match wins (so
    /// gunicorn comes before Python). Add a row to teach it more; the analyzer has no branch per program.
    /// </summary>
    internal static class SoftwareKnowledge
    {
        internal static readonly IReadOnlyList<SoftwareProfile> Table = new[]
        {
            new SoftwareProfile
            {
                Name = "nginx",
                ProcessNames = new[] { "nginx" },
                Model = SoftwareModel.EventLoop,
                GracefulStop = "nginx -s quit (graceful), nginx -s reload, or systemctl reload nginx",
                ServerIdleTimeout = "nginx keepalive_timeout (default 75 s, http/server block)",
                ClientPool = "in the upstream block, keepalive_timeout (nginx 1.15.3+) shorter than the upstream server's own keep-alive",
                Stalled = "nginx reads clients asynchronously: a stall here is an upstream or a blocked worker; check proxy_read_timeout and the error log",
                Source = "https://nginx.org/en/docs/http/ngx_http_core_module.html#keepalive_timeout ; https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive_timeout",
            },
            new SoftwareProfile
            {
                Name = "Apache httpd",
                ProcessNames = new[] { "apache2", "httpd" },
                Model = SoftwareModel.Workers,
                GracefulStop = "apachectl -k graceful (reload) or apachectl -k graceful-stop; systemctl reload apache2",
                ServerIdleTimeout = "Apache KeepAliveTimeout (default 5 s)",
                Stalled = "mod_status (apachectl fullstatus) shows what each worker does; bound slow requests with Timeout and RequestReadTimeout (mod_reqtimeout); raise MaxRequestWorkers if all are busy",
                Source = "https://httpd.apache.org/docs/2.4/mod/core.html#keepalivetimeout ; https://httpd.apache.org/docs/2.4/mod/mpm_common.html#maxrequestworkers",
            },
            new SoftwareProfile
            {
                Name = "HAProxy",
                ProcessNames = new[] { "haproxy" },
                Model = SoftwareModel.EventLoop,
                GracefulStop = "systemctl reload haproxy, or kill -USR1 {pid} (soft stop: finishes open sessions)",
                ServerIdleTimeout = "HAProxy timeout http-keep-alive (idle between requests; unset, timeout http-request and then timeout client apply)",
                Stalled = "HAProxy reads nothing more from a client while the server has not answered its request, so the FIN of a client that gave up stays unread until then: the servers are slow (the log's Tr timer, show stat on the stats socket); option abortonclose drops a request whose client left (set it in the defaults or listen section: HAProxy 2.6 ignored it in a backend behind a separate frontend), and timeout server bounds the wait",
                ClientPool = "HAProxy keeps idle server connections for reuse (http-reuse) and closes half of them every pool-purge-delay (a server keyword): keep pool-purge-delay well below the backend's keep-alive, or http-reuse never",
                Source = "https://docs.haproxy.org/2.8/configuration.html#4-timeout%20http-keep-alive ; https://docs.haproxy.org/2.8/configuration.html#4.2-http-reuse ; https://docs.haproxy.org/2.8/configuration.html#5.2-pool-purge-delay ; https://docs.haproxy.org/2.8/configuration.html#4-option%20abortonclose",
            },
            new SoftwareProfile
            {
                Name = "Envoy",
                ProcessNames = new[] { "envoy" },
                Model = SoftwareModel.EventLoop,
                GracefulStop = "POST /drain_listeners?graceful then /quitquitquit on the admin port, or a hot restart",
                ServerIdleTimeout = "Envoy common_http_protocol_options.idle_timeout of the HTTP connection manager (default 1 h)",
                ClientPool = "Envoy upstream idle_timeout shorter than the upstream's keep-alive: common_http_protocol_options.idle_timeout in the cluster's typed_extension_protocol_options (envoy.extensions.upstreams.http.v3.HttpProtocolOptions; default 1 h)",
                Source = "https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts ; https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/protocol.proto#envoy-v3-api-field-config-core-v3-httpprotocoloptions-idle-timeout",
            },
            new SoftwareProfile
            {
                Name = "gunicorn",
                ProcessNames = new[] { "gunicorn" },
                CommandLine = @"(^|[/\s])gunicorn(\s|$)",
                Model = SoftwareModel.Workers,
                GracefulStop = "kill -TERM {pid} (graceful stop), kill -HUP {pid} (new workers), or the service manager's restart",
                ServerIdleTimeout = "gunicorn --keep-alive (default 2 s; sync workers keep no connection alive)",
                ClientPool = "the app's HTTP client pool: reuse one requests.Session per worker and close it, or evict idle connections",
                Stalled = "py-spy dump --pid <worker> shows where a worker waits; --timeout restarts a silent sync worker; more --workers, or --worker-class gthread/gevent for slow clients",
                Inherited = "a child forked from a worker (multiprocessing with the fork start method) inherits the worker's client sockets: use multiprocessing.set_start_method('spawn') or 'forkserver', hand the job to a task queue, or close the inherited sockets first thing in the child",
                Inspect = "py-spy dump --pid {pid}",
                Source = "https://docs.gunicorn.org/en/stable/settings.html#keepalive ; https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods",
            },
            new SoftwareProfile
            {
                Name = "uWSGI",
                ProcessNames = new[] { "uwsgi*" },
                Model = SoftwareModel.Workers,
                GracefulStop = "echo q > <master-fifo> (graceful shutdown; --master-fifo), kill -HUP {pid} or uwsgi --reload <pidfile> (graceful reload); SIGINT and SIGQUIT (uwsgi --stop) kill the whole stack at once, and before 2.1 SIGTERM reloads brutally unless --die-on-term",
                ServerIdleTimeout = "uWSGI http-keepalive of the HTTP router (a value above 1 is its keep-alive idle timeout in seconds), or http-timeout",
                Stalled = "harakiri (seconds) recycles a stuck worker; more processes/threads; uwsgitop or the stats server shows busy workers",
                Inspect = "py-spy dump --pid {pid}",
                Source = "https://uwsgi-docs.readthedocs.io/en/latest/Options.html#harakiri ; https://uwsgi-docs.readthedocs.io/en/latest/Management.html ; https://uwsgi-docs.readthedocs.io/en/latest/MasterFIFO.html ; https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html",
            },
            new SoftwareProfile
            {
                Name = "php-fpm",
                ProcessNames = new[] { "php-fpm*" },
                Model = SoftwareModel.Workers,
                GracefulStop = "kill -QUIT {pid} (graceful stop), kill -USR2 {pid} (graceful reload), or systemctl reload php-fpm",
                Stalled = "request_slowlog_timeout with slowlog logs where slow requests wait; request_terminate_timeout bounds them; raise pm.max_children if all are busy",
                Source = "https://www.php.net/manual/en/install.fpm.configuration.php",
            },
            new SoftwareProfile
            {
                Name = "Node.js",
                ProcessNames = new[] { "node", "nodejs" },
                Model = SoftwareModel.EventLoop,
                GracefulStop = "kill -TERM {pid} with a SIGTERM handler that calls server.close(), or the service manager's restart",
                ServerIdleTimeout = "Node server.keepAliveTimeout (default 5 s)",
                ClientPool = "give the pooling http.Agent a timeout (ms) shorter than the server's keep-alive and agent.destroy() agents no longer used (keepAliveMsecs is no such timeout); undici: keepAliveTimeout",
                NotClosed = "a net.Server created with allowHalfOpen: true keeps each socket after the peer's 'end' until the code calls socket.end(): call it on 'end', or leave allowHalfOpen false",
                Stalled = "a blocked event loop reads nothing: node --cpu-prof or --inspect shows the handler; server.requestTimeout and headersTimeout bound slow clients",
                Source = "https://nodejs.org/api/http.html#serverkeepalivetimeout ; https://nodejs.org/api/net.html#netcreateserveroptions-connectionlistener ; https://nodejs.org/api/http.html#new-agentoptions",
            },
            new SoftwareProfile
            {
                Name = "Java",
                ProcessNames = new[] { "java" },
                Model = SoftwareModel.Runtime,
                GracefulStop = "kill -TERM {pid} (runs the shutdown hooks), or the service manager's restart",
                ClientPool = "evict idle pooled connections before the server's keep-alive: Apache HttpClient evictIdleConnections/evictExpiredConnections, OkHttp ConnectionPool keepAliveDuration, java.net.http jdk.httpclient.keepalive.timeout",
                Inspect = "jstack {pid} (or jcmd {pid} Thread.print)",
                Source = "https://hc.apache.org/httpcomponents-client-5.2.x/current/httpclient5/apidocs/org/apache/hc/client5/http/impl/classic/HttpClientBuilder.html ; https://docs.oracle.com/en/java/javase/17/docs/api/java.net.http/module-summary.html",
            },
            new SoftwareProfile
            {
                Name = ".NET",
                ProcessNames = new[] { "dotnet" },
                Model = SoftwareModel.Runtime,
                GracefulStop = "kill -TERM {pid} (the host stops gracefully), or the service manager's restart",
                ClientPool = "reuse one HttpClient and set SocketsHttpHandler.PooledConnectionIdleTimeout (default 1 min) shorter than the server's keep-alive",
                Inspect = "dotnet-stack report -p {pid}",
                Source = "https://learn.microsoft.com/dotnet/api/system.net.http.socketshttphandler.pooledconnectionidletimeout",
            },
            new SoftwareProfile
            {
                Name = "PostgreSQL",
                ProcessNames = new[] { "postgres", "postmaster" },
                Model = SoftwareModel.ProcessPerConnection,
                Stateful = true,
                GracefulStop = "end a backend with SELECT pg_terminate_backend(<pid>); stop the server with pg_ctl stop -m fast or systemctl restart postgresql. Never SIGKILL a backend: the postmaster then resets every session and runs crash recovery",
                ServerIdleTimeout = "PostgreSQL idle_session_timeout / idle_in_transaction_session_timeout",
                Stalled = "backends run queries whose clients left: set client_connection_check_interval = '1s' (PostgreSQL 14+; after pg_reload_conf() queries that start from then on check their client and end once it left, queries already running do not), and statement_timeout to bound queries; now: SELECT pid, query FROM pg_stat_activity, then pg_cancel_backend(pid) or pg_terminate_backend(pid)",
                Source = "https://www.postgresql.org/docs/current/runtime-config-connection.html#GUC-CLIENT-CONNECTION-CHECK-INTERVAL ; https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL",
            },
            new SoftwareProfile
            {
                Name = "MySQL/MariaDB",
                ProcessNames = new[] { "mysqld", "mariadbd" },
                Model = SoftwareModel.Workers,
                Stateful = true,
                GracefulStop = "KILL QUERY <id> or KILL <id> for one session; mysqladmin shutdown or systemctl restart mysql for the server. Never SIGKILL it: it runs crash recovery",
                ServerIdleTimeout = "MySQL wait_timeout (default 8 h)",
                Stalled = "SHOW PROCESSLIST finds the sessions still running for clients that left; max_execution_time (MySQL) or max_statement_time (MariaDB) bounds them; KILL QUERY <id> ends one",
                Source = "https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_wait_timeout ; https://dev.mysql.com/doc/refman/8.0/en/kill.html",
            },
            new SoftwareProfile
            {
                Name = "Redis",
                ProcessNames = new[] { "redis-server" },
                Model = SoftwareModel.EventLoop,
                Stateful = true,
                GracefulStop = "redis-cli SHUTDOWN (saves first where persistence is on) or systemctl restart redis-server; a SIGKILL loses every write since the last save",
                ServerIdleTimeout = "Redis timeout (seconds; default 0, never)",
                Stalled = "one slow command blocks every client of the one thread: redis-cli SLOWLOG GET 10 and LATENCY DOCTOR name it; use SCAN not KEYS, UNLINK not DEL, short scripts (SCRIPT KILL ends a busy one); CLIENT KILL drops a client",
                Source = "https://redis.io/docs/latest/commands/slowlog-get/ ; https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/",
            },
            new SoftwareProfile
            {
                Name = "socat",
                ProcessNames = new[] { "socat" },
                Model = SoftwareModel.ProcessPerConnection,
                GracefulStop = "kill -TERM <pid> of the one connection's socat child",
                NotClosed = "socat -t <seconds> (default 0.5) is how long it keeps the other side open after one side's end of stream: a long -t keeps the closed side in CLOSE_WAIT that long; shorten it, and bound idle connections with -T",
                Source = "http://www.dest-unreach.org/socat/doc/socat.html#OPTION_t",
            },
            new SoftwareProfile
            {
                Name = "Python",
                ProcessNames = new[] { "python*", "pypy*" },
                Model = SoftwareModel.Runtime,
                GracefulStop = "kill -TERM {pid}, or the service manager's restart",
                ClientPool = "requests/urllib3 keep at most pool_maxsize (default 10) idle connections per host and Session: such a bounded pool is benign and reconnects on next use; far more means Sessions created and never closed: reuse one, or close it (with requests.Session() as s:)",
                PoolPerHost = 10,
                Inherited = "a child forked without exec (multiprocessing's fork start method) inherits every socket: use multiprocessing.set_start_method('spawn') or 'forkserver', a task queue, or close the inherited sockets in the child; subprocess keeps close_fds=True",
                Inspect = "py-spy dump --pid {pid}",
                Source = "https://urllib3.readthedocs.io/en/stable/reference/urllib3.connectionpool.html ; https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods",
            },
        };

        /// <summary>The first row that recognises one of the processes, tried in the order given (the main process first).</summary>
        internal static SoftwareProfile? Recognize(IEnumerable<ProcessFacts?> processes)
        {
            var known = processes.Where(p => p != null).ToList();
            foreach (var p in known)
            {
                foreach (var row in Table)
                {
                    if (row.Matches(p!))
                    {
                        return row;
                    }
                }
            }

            return null;
        }

        /// <summary>By name, for a table that gives only the owner's name (Windows, macOS).</summary>
        internal static SoftwareProfile? RecognizeName(string? name) =>
            name == null ? null : Recognize(new[] { new ProcessFacts(0, null, name, null, null) });
    }
}
