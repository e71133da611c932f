// The mails accounts send, as plain text. Links point at the console API's own pages (the web console will
// take them over); each one-time token travels only in its link.
import { formatCredits, type MicroCredits } from '../domain/money.ts';
import type { OutgoingMail } from './mailer.ts';

export const VERIFY_PATH = '/console/v1/auth/verify-email';
export const RESET_PATH = '/console/v1/auth/password-reset';

const hours = (ms: number): string => `${Math.round(ms / 3_600_000)} hour${Math.round(ms / 3_600_000) === 1 ? '' : 's'}`;

export function verificationMail(to: string, publicUrl: string, token: string, ttlMs: number): OutgoingMail {
  const link = `${publicUrl}${VERIFY_PATH}?token=${encodeURIComponent(token)}`;
  return {
    kind: 'verify_email',
    to,
    subject: 'Confirm your email address',
    text: [
      'Welcome to Switchyard.',
      '',
      'Confirm that this address is yours by opening the link below. Until you do, you can sign in but not create API keys.',
      '',
      link,
      '',
      `The link works once and expires in ${hours(ttlMs)}. If you did not sign up, ignore this mail.`,
    ].join('\n'),
    links: [link],
  };
}

export function resetMail(to: string, publicUrl: string, token: string, ttlMs: number): OutgoingMail {
  const link = `${publicUrl}${RESET_PATH}?token=${encodeURIComponent(token)}`;
  return {
    kind: 'reset_password',
    to,
    subject: 'Reset your password',
    text: [
      'Someone (we hope you) asked to reset the password of this Switchyard account.',
      '',
      'Choose a new password with the link below:',
      '',
      link,
      '',
      `The link works once and expires in ${hours(ttlMs)}. Setting a new password signs out every session.`,
      'If you did not ask for this, ignore this mail: your password stays as it is.',
    ].join('\n'),
    links: [link],
  };
}

export function passwordChangedMail(to: string): OutgoingMail {
  return {
    kind: 'password_changed',
    to,
    subject: 'Your password was changed',
    text: [
      'The password of your Switchyard account was just changed, and every other session was signed out.',
      '',
      'If this was not you, reset your password at once and check your API keys.',
    ].join('\n'),
    links: [],
  };
}

export function accountClosedMail(to: string, forfeited: MicroCredits): OutgoingMail {
  return {
    kind: 'account_closed',
    to,
    subject: 'Your account is closed',
    text: [
      'Your Switchyard account is closed, as you asked.',
      '',
      '- Every API key was revoked.',
      forfeited > 0n
        ? `- The remaining balance of ${formatCredits(forfeited)} credits was forfeited (recorded in the account's ledger).`
        : '- There was no remaining balance.',
      '- Your email address was erased; this mail is the last one sent to it.',
      '',
      'Usage and ledger records are kept without any personal data, as the terms require for accounting.',
    ].join('\n'),
    links: [],
  };
}

/** A console notification (a price change, its cancellation) as a mail: its subject and text as they are stored. */
export function notificationMail(to: string, subject: string, body: string): OutgoingMail {
  return {
    kind: 'notification',
    to,
    subject,
    text: [
      body,
      '',
      'You receive this because you used this model on Switchyard in the last 90 days. The same notice is in your',
      "account's notifications. $1 = 1,000 credits; every model's current and upcoming prices are listed by GET /v1/models.",
    ].join('\n'),
    links: [],
  };
}
