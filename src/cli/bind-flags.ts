// The flags `serve` and `fleet` share for where and how they listen: TLS files, the names they are reached by, and the
// explicit choice of plain HTTP off loopback (rules: src/server/network-bind.ts).

/** parseArgs options of the bind flags. */
export const BIND_OPTIONS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'public-name': { type: 'string', multiple: true },
  'insecure-no-tls': { type: 'boolean' },
} as const;

export interface BindFlagValues {
  'tls-cert'?: string;
  'tls-key'?: string;
  'public-name'?: string[];
  'insecure-no-tls'?: boolean;
}

/** The bind flags as the launch options of the station and the fleet view take them. */
export function bindFlags(values: BindFlagValues): { tlsCertFile?: string; tlsKeyFile?: string; publicNames: string[]; insecureNoTls: boolean } {
  return {
    ...(values['tls-cert'] !== undefined ? { tlsCertFile: values['tls-cert'] } : {}),
    ...(values['tls-key'] !== undefined ? { tlsKeyFile: values['tls-key'] } : {}),
    publicNames: values['public-name'] ?? [],
    insecureNoTls: values['insecure-no-tls'] ?? false,
  };
}
