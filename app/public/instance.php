<?php
/*
 * Which instance answered? Shows the instance id, private IP, availability zone and region of
 * the instance that served this request, read from the instance metadata service with IMDSv2
 * (PUT a token, then GET with it). Reload through the load balancer to watch it spread requests.
 * ?format=json returns the same as JSON (for scripts and smoke tests).
 *
 * WEBFLEET_IMDS_ENDPOINT (Apache SetEnv) points it at another metadata service; the local
 * `npm run revision:check` uses that for a stand-in on 127.0.0.1. Off EC2 the page says so
 * after a short timeout instead of hanging.
 */
declare(strict_types=1);

const IMDS_DEFAULT_ENDPOINT = 'http://169.254.169.254';
const IMDS_TIMEOUT_SECONDS = 1.0;
const IMDS_TOKEN_TTL_SECONDS = 60;
const FIELDS = [
    'instanceId' => ['Instance ID', 'meta-data/instance-id'],
    'privateIp' => ['Private IP', 'meta-data/local-ipv4'],
    'availabilityZone' => ['Availability zone', 'meta-data/placement/availability-zone'],
    'region' => ['Region', 'meta-data/placement/region'],
];

/** @return array{0: int, 1: string} HTTP status (0 when there was no answer) and body. */
function imds_request(string $method, string $url, array $headers): array
{
    $context = stream_context_create(['http' => [
        'method' => $method,
        'header' => implode("\r\n", $headers),
        'timeout' => IMDS_TIMEOUT_SECONDS,
        'ignore_errors' => true,
        'follow_location' => 0,
    ]]);
    $body = @file_get_contents($url, false, $context);
    $status = 0;
    if ($body !== false && isset($http_response_header[0]) && preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m)) {
        $status = (int) $m[1];
    }
    return [$status, $body === false ? '' : $body];
}

/** @return array{state: string, endpoint: string, detail?: string, values?: array<string, string>} */
function instance_identity(string $endpoint): array
{
    [$status, $token] = imds_request('PUT', "$endpoint/latest/api/token", ['X-aws-ec2-metadata-token-ttl-seconds: ' . IMDS_TOKEN_TTL_SECONDS]);
    if ($status === 0) {
        return ['state' => 'unreachable', 'endpoint' => $endpoint];
    }
    if ($status !== 200 || $token === '') {
        return ['state' => 'error', 'endpoint' => $endpoint, 'detail' => "token request answered HTTP $status"];
    }
    $values = [];
    foreach (FIELDS as $key => [, $path]) {
        [$status, $body] = imds_request('GET', "$endpoint/latest/$path", ["X-aws-ec2-metadata-token: $token"]);
        if ($status !== 200) {
            return ['state' => 'error', 'endpoint' => $endpoint, 'detail' => "$path answered HTTP $status"];
        }
        $values[$key] = trim($body);
    }
    return ['state' => 'ok', 'endpoint' => $endpoint, 'values' => $values];
}

$endpoint = rtrim(getenv('WEBFLEET_IMDS_ENDPOINT') ?: IMDS_DEFAULT_ENDPOINT, '/');
$identity = instance_identity($endpoint);
$served_at = gmdate('Y-m-d\TH:i:s\Z');

header('Cache-Control: no-store');
if (($_GET['format'] ?? '') === 'json') {
    header('Content-Type: application/json');
    echo json_encode($identity + ['servedAt' => $served_at], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
    exit;
}

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}
?>
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Which instance answered?</title>
<style>
body { font-family: sans-serif; margin: 2em; }
th { text-align: left; padding-right: 1em; }
td { font-family: monospace; }
.state { padding: 0.5em 1em; border-radius: 4px; display: inline-block; }
.ok { background: #e6f4ea; }
.unreachable, .error { background: #fdecea; }
</style>
</head>
<body>
<h1>Which instance answered?</h1>
<?php if ($identity['state'] === 'ok'): ?>
<table id="identity">
<?php foreach (FIELDS as $key => [$label]): ?>
<tr><th><?= h($label) ?></th><td data-field="<?= h($key) ?>"><?= h($identity['values'][$key]) ?></td></tr>
<?php endforeach; ?>
</table>
<p class="state ok">Read from the instance metadata service (IMDSv2).</p>
<?php elseif ($identity['state'] === 'unreachable'): ?>
<p class="state unreachable" id="not-on-ec2">Not on EC2 (metadata service unreachable at <?= h($identity['endpoint']) ?>).</p>
<?php else: ?>
<p class="state error" id="imds-error">The metadata service at <?= h($identity['endpoint']) ?> refused: <?= h($identity['detail']) ?>.</p>
<?php endif; ?>
<p>Served at <?= h($served_at) ?>. Reload to see the load balancer pick an instance.</p>
<p><a href="./">Back to the sample page</a></p>
</body>
</html>
