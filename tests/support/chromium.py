# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Headless Debian Chromium driven over its DevTools protocol (a websocket on loopback), for page checks:

    with Chromium(tmp_path / 'profile') as browser:
        visit = browser.visit('file:///.../coverage.html', width=1280)
        visit.evaluate('document.documentElement.scrollWidth'); visit.requests; visit.dialogs

A fresh user-data-dir per run; no sandbox (tests run as root), no GPU, no background networking, no component
updates, no sync. The browser is stopped by its PID.
"""
from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request

from websockets.sync.client import connect

FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--no-default-browser-check', '--remote-debugging-address=127.0.0.1',
         '--remote-debugging-port=0')


def chromium_path():
    return shutil.which('chromium')


class Visit:
    """One page load: its requests, JavaScript dialogs, console and log entries; evaluate and screenshot."""

    def __init__(self, socket):
        self._socket = socket
        self._ids = itertools.count(1)
        self.requests, self.dialogs, self.log = [], [], []

    def send(self, method, wait_event=None, **params):
        number = next(self._ids)
        self._socket.send(json.dumps({'id': number, 'method': method, 'params': params}))
        answer, seen = None, wait_event is None
        while answer is None or not seen:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get('id') == number:
                if 'error' in message:
                    raise RuntimeError('%s: %s' % (method, message['error']))
                answer = message.get('result', {})
            elif message.get('method') == wait_event:
                seen = True
            self._note(message)
        return answer

    def _note(self, message):
        method, params = message.get('method'), message.get('params', {})
        if method == 'Network.requestWillBeSent':
            self.requests.append(params['request']['url'])
        elif method == 'Page.javascriptDialogOpening':
            self.dialogs.append(params.get('message'))
        elif method in ('Log.entryAdded', 'Runtime.consoleAPICalled'):
            self.log.append(params.get('entry', params))

    def evaluate(self, expression):
        result = self.send('Runtime.evaluate', expression=expression, returnByValue=True)
        if 'exceptionDetails' in result:
            raise RuntimeError('%s: %s' % (expression, result['exceptionDetails']))
        return result['result'].get('value')

    def screenshot(self, path, height=None):
        """A PNG of the page, ``height`` CSS pixels from the top (default: the whole page)."""
        full = self.evaluate('document.documentElement.scrollHeight')
        width = self.evaluate('document.documentElement.clientWidth')
        clip = {'x': 0, 'y': 0, 'width': width, 'height': min(height or full, full), 'scale': 1}
        data = self.send('Page.captureScreenshot', format='png', clip=clip, captureBeyondViewport=True)['data']
        path.write_bytes(base64.b64decode(data))
        return path


class Chromium:
    def __init__(self, profile_dir):
        self.profile_dir = profile_dir
        self.process = None
        self.port = None

    def __enter__(self):
        self.profile_dir.mkdir(parents=True)   # fresh: no state, no port file of an earlier browser
        self.process = subprocess.Popen([chromium_path(), *FLAGS, '--user-data-dir=%s' % self.profile_dir, 'about:blank'],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile_dir / 'DevToolsActivePort'
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('chromium did not start its DevTools endpoint (exit %s)' % self.process.poll())
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait(timeout=30)

    def _page_socket_url(self):
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen('http://127.0.0.1:%d/json/list' % self.port, timeout=10) as answer:
                pages = [target for target in json.load(answer) if target.get('type') == 'page']
            if pages or time.monotonic() > deadline:
                return pages[0]['webSocketDebuggerUrl']
            time.sleep(0.1)

    def visit(self, url, width=1280, height=900):
        """Load ``url`` in a ``width`` x ``height`` window, recording everything from before the first request."""
        socket = connect(self._page_socket_url(), max_size=None, open_timeout=30)
        visit = Visit(socket)
        for domain in ('Page', 'Network', 'Runtime', 'Log'):
            visit.send('%s.enable' % domain)
        visit.send('Emulation.setDeviceMetricsOverride', width=width, height=height, deviceScaleFactor=1, mobile=False)
        visit.send('Page.navigate', wait_event='Page.loadEventFired', url=url)
        return visit
