/**
 * Where the signed-in connection string lives: sessionStorage (gone when the tab closes), or localStorage when the
 * user ticked "remember me". Never in a URL or a log. Sign-out clears both.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { Api, parseConnectionString } from './api';

const KEY = 'opendps.console.connectionString';

export function restore(): Api | undefined {
  const saved = sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
  if (!saved) return undefined;
  try {
    return new Api(parseConnectionString(saved));
  } catch {
    clear();
    return undefined;
  }
}

export function remember(connectionString: string, persist: boolean): void {
  clear();
  (persist ? localStorage : sessionStorage).setItem(KEY, connectionString);
}

export function clear(): void {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}

export interface Session {
  readonly api: Api;
  signOut(): void;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('not signed in');
  return s;
}

export const useApi = (): Api => useSession().api;
