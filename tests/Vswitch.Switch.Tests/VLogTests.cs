using Vswitch.Switch.Diagnostics;

namespace Vswitch.Switch.Tests;

public class VLogTests
{
    [Fact]
    public void IsEnabledWithARateLimit_TakesATokenOnlyWhenTheLevelIsOn_AndReportsSuppressedMessages()
    {
        var log = VLog.Module("vlogtest" + Guid.NewGuid().ToString("N")[..8]);
        var limit = new VLogRateLimit(perMinute: 1, burst: 2);
        var saved = VLog.Output;
        var output = new StringWriter();
        try
        {
            VLog.Output = TextWriter.Synchronized(output);
            log.Level = VLogLevel.Warn;
            Assert.False(log.IsEnabled(VLogLevel.Dbg));
            Assert.False(log.IsEnabled(VLogLevel.Info, limit)); // level off: no token taken
            Assert.True(log.IsEnabled(VLogLevel.Warn, limit));
            Assert.True(log.IsEnabled(VLogLevel.Warn, limit));
            Assert.False(log.IsEnabled(VLogLevel.Warn, limit)); // burst used up: suppressed (and counted)
            Assert.False(log.IsEnabled(VLogLevel.Err, limit));

            var refilled = new VLogRateLimit(perMinute: 60_000, burst: 1);
            Assert.True(log.IsEnabled(VLogLevel.Warn, refilled));
            Assert.False(log.IsEnabled(VLogLevel.Warn, refilled));
            // 60,000 per minute: a token comes back within a millisecond; each refused call counts as suppressed.
            Assert.True(SpinWait.SpinUntil(() => log.IsEnabled(VLogLevel.Warn, refilled), 5000));
            var lines = output.ToString().Split('\n').Where(l => l.Contains($"|{log.Name}|", StringComparison.Ordinal)).ToList();
            Assert.Single(lines);
            Assert.Matches(@"\|WARN\|Dropped [1-9][0-9]* log messages in last interval", lines[0]);
        }
        finally
        {
            VLog.Output = saved;
        }
    }
}
