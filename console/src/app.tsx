/** Sign-in gate, navigation and the route table (preact-iso's router). */
import { useState } from 'preact/hooks';
import { ErrorBoundary, LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { Api, ApiError, parseConnectionString } from './api';
import { ErrorBox } from './components';
import { clear, remember, restore, SessionContext, type Session } from './session';
import { Overview } from './pages/overview';
import { EnrollmentList, EnrollmentPage } from './pages/enrollments';
import { GroupList, GroupPage } from './pages/groups';
import { Registrations } from './pages/registrations';
import { LinkedHubs } from './pages/linked-hubs';
import { Certificates } from './pages/certificates';
import { CredentialPolicies } from './pages/credential-policies';
import { HubDevice, HubList, HubPage } from './pages/hub-explorer';

export const BASE = '/console';

function SignIn({ onSignedIn }: { onSignedIn(api: Api): void }) {
  const [text, setText] = useState('');
  const [persist, setPersist] = useState(false);
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    let api: Api;
    try {
      api = new Api(parseConnectionString(text));
    } catch (err) {
      setError(err as Error);
      return;
    }
    setBusy(true);
    try {
      await api.get('/opendps/linkedHubs'); // proves the key before anything is kept
      remember(api.credentials.connectionString, persist);
      onSignedIn(api);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? new Error('The server refused this connection string (401 Unauthorized).') : err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>OpenDPS console</h1>
      <form onSubmit={submit}>
        <label for="cs">Service connection string</label>
        <textarea id="cs" name="connectionString" rows={3} autocomplete="off" spellcheck={false} value={text}
          placeholder="HostName=...;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=..." onInput={(e) => setText(e.currentTarget.value)} />
        <p class="hint">Printed by <code>opendps serve</code> and kept in <code>connection.json</code> in its data directory.</p>
        <label class="check"><input type="checkbox" name="remember" checked={persist} onChange={(e) => setPersist(e.currentTarget.checked)} /> Remember me on this computer</label>
        {error && <span class="field-error" role="alert">{error.message}</span>}
        <button type="submit" disabled={busy || !text.trim()}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}

const NAV: Array<[string, string]> = [
  ['', 'Overview'], ['/enrollments', 'Individual enrollments'], ['/groups', 'Enrollment groups'], ['/registrations', 'Registration records'],
  ['/linked-hubs', 'Linked hubs & allocation'], ['/certificates', 'Certificates'], ['/credential-policies', 'Credential policies'], ['/hubs', 'Hub explorer'],
];

/** Whether a nav entry is the page shown (its own path or one below it; the overview only at the root). */
function isCurrent(path: string, entry: string): boolean {
  const at = path.replace(/\/+$/, '');
  return entry === '' ? at === BASE || at === '' : at === `${BASE}${entry}` || at.startsWith(`${BASE}${entry}/`);
}

function Shell({ session }: { session: Session }) {
  const { path } = useLocation();
  return (
    <SessionContext.Provider value={session}>
      <div class="shell">
        <nav>
          <div class="brand">OpenDPS</div>
          <div class="host">{session.api.credentials.hostName}</div>
          <ul>{NAV.map(([entry, label]) => (
            <li key={entry}><a href={`${BASE}${entry || '/'}`} aria-current={isCurrent(path, entry) ? 'page' : undefined}>{label}</a></li>
          ))}</ul>
          <button type="button" class="signout" onClick={session.signOut}>Sign out</button>
        </nav>
        <main>
          <ErrorBoundary>
            <Router>
              <Route path={`${BASE}/`} component={Overview} />
              <Route path={`${BASE}/enrollments`} component={EnrollmentList} />
              <Route path={`${BASE}/enrollments/:id`} component={EnrollmentPage} />
              <Route path={`${BASE}/groups`} component={GroupList} />
              <Route path={`${BASE}/groups/:id`} component={GroupPage} />
              <Route path={`${BASE}/registrations`} component={Registrations} />
              <Route path={`${BASE}/registrations/:id`} component={Registrations} />
              <Route path={`${BASE}/linked-hubs`} component={LinkedHubs} />
              <Route path={`${BASE}/certificates`} component={Certificates} />
              <Route path={`${BASE}/credential-policies`} component={CredentialPolicies} />
              <Route path={`${BASE}/hubs`} component={HubList} />
              <Route path={`${BASE}/hubs/:hub`} component={HubPage} />
              <Route path={`${BASE}/hubs/:hub/devices/:id`} component={HubDevice} />
              <Route default component={() => <ErrorBox error={new Error('No such page.')} />} />
            </Router>
          </ErrorBoundary>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

export function App() {
  const [api, setApi] = useState<Api | undefined>(() => restore());
  const signOut = () => { clear(); setApi(undefined); };
  return (
    <LocationProvider scope={BASE}>
      {api ? <Shell session={{ api, signOut }} /> : <SignIn onSignedIn={setApi} />}
    </LocationProvider>
  );
}
