// A TLS origin of the kind agents call: Node's own https server answering every request
// with a small JSON body, as a typical API server does (scripts/bench-gateway). The
// Rust origin in proxy_load.rs is many times faster than any real API, so it shows the
// proxy's own ceiling; this one shows what an agent's traffic meets.
// Usage: node origin.js KEY CERT   (prints `port N`)
const https = require("https");
const fs = require("fs");
const [key, cert] = process.argv.slice(2);
const body = '{"data":{"me":{"id":"user_1","email":"dev@example.com"}}}';
https
  .createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
    });
    res.end(body);
  })
  .listen(0, "127.0.0.1", function () {
    console.log(`port ${this.address().port}`);
  });
