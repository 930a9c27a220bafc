package jobs

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"corral/frameworks/jobs/notify"
	"corral/frameworks/jobs/store"
)

// mailer sends the notifications whose target is an owner's address
// (notify.Owners) through the --smtp server: one SMTP session per
// message, STARTTLS whenever the server offers it, PLAIN authentication
// when a user is configured (net/smtp refuses it without TLS except to
// loopback). Its outcome is recorded like a webhook's: the SMTP reply
// code as the status, retried with the same backoff.
type mailer struct {
	addr, from, user, password string
	timeout                    time.Duration
}

func newMailer(cfg Config) *mailer {
	if cfg.SMTP == "" {
		return nil
	}
	return &mailer{addr: cfg.SMTP, from: cfg.SMTPFrom, user: cfg.SMTPUser, password: cfg.SMTPPassword, timeout: cfg.NotifyTimeout}
}

// send mails d's notification to its address: the status (the last SMTP
// reply code, 0 for none) and why it did not deliver ("" if it did).
func (m *mailer) send(ctx context.Context, d store.Delivery, p notify.Payload) (int, string) {
	to := strings.TrimPrefix(d.URL, notify.MailScheme)
	if m == nil {
		return 0, "no mail server: start the jobs framework with --smtp"
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return 0, "cannot reach the mail server: " + err.Error()
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(m.addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return smtpFailure(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return smtpFailure(err)
		}
	}
	if m.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.user, m.password, host)); err != nil {
			return smtpFailure(err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return smtpFailure(err)
	}
	if err := c.Rcpt(to); err != nil {
		return smtpFailure(err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpFailure(err)
	}
	if _, err := w.Write(notify.Mail(p, m.from, to, time.Now())); err != nil {
		return smtpFailure(err)
	}
	if err := w.Close(); err != nil {
		return smtpFailure(err)
	}
	_ = c.Quit()
	return 250, ""
}

// smtpFailure is the status and message of a failed SMTP exchange.
func smtpFailure(err error) (int, string) {
	var pe *textproto.Error
	if errors.As(err, &pe) {
		return pe.Code, "the mail server answered " + pe.Error()
	}
	return 0, "mail: " + err.Error()
}
