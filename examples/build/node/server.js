// A tiny HTTP server for Sentinel's build-from-source examples: no dependencies, listens on $PORT.
const http = require("http");

const VERSION = process.env.APP_VERSION || "node v1";
const port = Number(process.env.PORT || 8000);

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("ok\n");
  } else if (req.url === "/") {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(`hello from ${VERSION}\n`);
  } else {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
  }
});

server.listen(port, "0.0.0.0", () => console.log(`listening on ${port}`));
// Swarm stops a task with SIGTERM: finish the requests in flight, then exit.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
