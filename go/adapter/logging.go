package adapter

import (
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

var forwardLogsOnce sync.Once

// forwardLogs sends the library's log records to logrus, with the library's fields, from the
// level logrus is set to when the first client is made.
func forwardLogs() {
	forwardLogsOnce.Do(func() {
		logger := logrus.WithField("module", "libcontainerd-ffi")
		min := lcd.LogInfo
		switch logrus.GetLevel() {
		case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
			min = lcd.LogError
		case logrus.WarnLevel:
			min = lcd.LogWarn
		case logrus.DebugLevel:
			min = lcd.LogDebug
		case logrus.TraceLevel:
			min = lcd.LogTrace
		}
		lcd.SetLogSink(func(level lcd.LogLevel, target, message string, fields map[string]string) {
			entry := logger.WithField("target", target)
			for k, v := range fields {
				entry = entry.WithField(k, v)
			}
			switch level {
			case lcd.LogError:
				entry.Error(message)
			case lcd.LogWarn:
				entry.Warn(message)
			case lcd.LogInfo:
				entry.Info(message)
			case lcd.LogDebug:
				entry.Debug(message)
			default:
				entry.Trace(message)
			}
		}, min)
	})
}
